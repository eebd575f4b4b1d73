"""``venice-nb``: serve the local backend, or run one edit from the shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ._constants import OUTPUT_FORMAT_ALIASES, OUTPUT_FORMATS, QUALITIES
from ._params import EDIT_OPTIONS, Upload

__all__ = ["main"]


def _add_edit_options(p: argparse.ArgumentParser, *, quality: bool = False) -> None:
    """One flag per edit option (``_params.EDIT_OPTIONS``; ``upload`` is ``--multipart``)."""
    p.add_argument("--model", help="model id (see `venice-nb models`); omit for the server default")
    p.add_argument("--aspect-ratio")
    p.add_argument("--resolution", help="1K, 2K or 4K, as the model allows")
    if quality:
        p.add_argument("--quality", choices=QUALITIES)
    p.add_argument("--output-format", choices=(*OUTPUT_FORMATS, *OUTPUT_FORMAT_ALIASES))
    p.add_argument(
        "--safe-mode",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="blur adult content (the server's default is on)",
    )
    p.add_argument("--enhance-prompt", action="store_true", default=None)
    p.add_argument("--fit", action="store_true", help="resize/re-encode inputs to fit the limits")


_FAULT_KINDS = {
    "429": "rate_429",
    "500": "rate_500",
    "503": "rate_503",
    "drop": "rate_drop",
    "truncate": "rate_truncate",
    "seed": "seed",
}


def _faults(text: str) -> dict[str, float]:
    """``429=0.1,drop=0.02`` -> FaultConfig keyword arguments."""
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, _, rate = item.partition("=")
        if kind not in _FAULT_KINDS:
            raise argparse.ArgumentTypeError(
                f"unknown fault {kind!r}; use {', '.join(_FAULT_KINDS)}"
            )
        try:
            out[_FAULT_KINDS[kind]] = int(rate) if kind == "seed" else float(rate)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: the rate must be a number") from None
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="venice-nb",
        description="Venice image editing from the shell. Without VENICE_API_KEY every command "
        "uses the offline local backend.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the local Venice-compatible backend")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only). Beyond loopback "
        "(e.g. 0.0.0.0) the server requires the key in VENICE_NB_SERVE_KEY unless "
        "--no-require-auth, and fetches image URLs only for callers on this machine unless "
        "--allow-remote-fetch",
    )
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added to each edit")
    serve.add_argument("--rate-limit", type=int, help="requests per minute per caller")
    serve.add_argument("--balance", type=float, help="USD balance; 402 once spent")
    serve.add_argument(
        "--realism",
        choices=("venice", "exact"),
        default="venice",
        help="venice (default): answers are regenerated frames and a mask layer is a hint, as "
        "on Venice; exact: pixels outside a mask layer stay byte-identical",
    )
    serve.add_argument(
        "--faults",
        type=_faults,
        default=None,
        metavar="KIND=RATE,...",
        help="inject failures, e.g. 429=0.1,500=0.05,503=0.05,drop=0.02,truncate=0.02",
    )
    serve.add_argument(
        "--reject-key",
        action="append",
        default=[],
        metavar="KEY",
        help="answer 401 to this API key (repeatable)",
    )
    serve.add_argument(
        "--require-auth",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="401 without a key or wallet (default: on when --host is beyond loopback; with "
        "VENICE_NB_SERVE_KEY set only that key is accepted)",
    )
    serve.add_argument(
        "--allow-remote-fetch",
        action="store_true",
        help="also fetch (loopback) image URLs for callers on other machines; this lets them "
        "read any local port of this machine through the server",
    )

    for name, help_text in (
        ("edit", "edit one image with a prompt"),
        ("multi-edit", "edit a base image with mask/overlay layers"),
    ):
        p = sub.add_parser(name, help=help_text)
        if name == "edit":
            p.add_argument("image")
        else:
            p.add_argument("images", nargs="+", help="base image first, then layers")
        p.add_argument("-p", "--prompt", required=True)
        p.add_argument("-o", "--output", required=True, help="where to write the result")
        p.add_argument("--multipart", action="store_true", help="upload as multipart form-data")
        _add_edit_options(p, quality=name == "multi-edit")

    bg = sub.add_parser("remove-bg", help="cut out the subject as a transparent PNG")
    bg.add_argument("image")
    bg.add_argument("-o", "--output", required=True)
    bg.add_argument("--multipart", action="store_true")

    up = sub.add_parser("upscale", help="enlarge an image 2x or 4x")
    up.add_argument("image")
    up.add_argument("-o", "--output", required=True)
    up.add_argument("--scale", type=int, choices=(2, 4), default=2)
    up.add_argument("--creativity", type=float, help="detail added, 0 to 0.02 (server: 0.01)")
    up.add_argument("--multipart", action="store_true")

    models = sub.add_parser("models", help="list edit models with prices and limits")
    models.add_argument("--type", default="inpaint")
    models.add_argument("--json", action="store_true", help="print the raw model objects")
    return parser


def _serve(args: argparse.Namespace) -> int:
    from ._backend import BackendConfig, FaultConfig, serve_forever
    from ._backend._exposure import SERVE_KEY_ENV, serve_auth

    accepted = serve_auth(args.host, args.require_auth, os.environ.get(SERVE_KEY_ENV))
    config = BackendConfig(
        latency=args.latency,
        rejected_keys=frozenset(args.reject_key),
        require_auth=bool(args.require_auth) or bool(accepted),
        accepted_keys=accepted,
        allow_remote_fetch=args.allow_remote_fetch,
        realism=args.realism,
    )
    if args.faults:
        config.faults = FaultConfig(**args.faults)
    if args.rate_limit is not None:
        config.rate_limit = args.rate_limit
    if args.balance is not None:
        config.balance_usd = args.balance
    serve_forever(args.host, args.port, config)
    return 0


def _run(args: argparse.Namespace) -> int:
    from ._client._client import Client

    upload: Upload = "multipart" if getattr(args, "multipart", False) else "json"
    with Client() as client:
        if args.command == "models":
            for m in client.models(type=args.type):
                if args.json:
                    print(json.dumps(m.raw))
                else:
                    price = f"${m.price_usd:.3f}" if m.price_usd is not None else "   n/a"
                    print(f"{m.id:32} {price:>8}  {m.name}")
            return 0
        if args.command == "remove-bg":
            result = client.remove_background(args.image, upload=upload)
        elif args.command == "upscale":
            result = client.upscale(
                args.image,
                scale=args.scale,
                creativity=args.creativity,
                upload="multipart" if args.multipart else "json",
            )
        else:
            given = vars(args)
            options = {name: given[name] for name in EDIT_OPTIONS if name in given}
            options["upload"] = upload
            if args.command == "edit":
                result = client.edit(args.image, args.prompt, model=args.model, **options)
            else:
                result = client.multi_edit(args.images, args.prompt, model=args.model, **options)
        path = result.save(Path(args.output))
        print(f"wrote {path} · {result.caption()} · {result.backend_label}")
        for action in result.fit_actions:
            print(f"  fit: {action}")
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    from ._exceptions import VeniceError

    args = _parser().parse_args(argv)
    try:
        return _serve(args) if args.command == "serve" else _run(args)
    except VeniceError as exc:
        todo = f" (what to do: {exc.action})" if exc.action else ""
        print(f"venice-nb: {exc.message}{todo}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # e.g. the output cannot be written: one line, never a traceback
        print(f"venice-nb: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""``Client`` and ``AsyncClient``: thin I/O twins over the shared builders in ``_request``.

Everything that decides *what* to send lives in ``_request``; everything that decides *whether
to try again* lives in ``_retry``. The two classes here only move bytes, sleep and await.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx

from .. import _arguments as guards
from ..__version__ import __version__
from .._constants import (
    API_KEY_ENV,
    AUTH_HEADER,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    MODELS_PATH,
    REGION_CONTEXT,
    SIWX_HEADER,
    SIWX_LEGACY_HEADER,
    STORE_MODE_ENV,
    STORE_MODES,
)
from .._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ReplayMissError,
    ValidationError,
    VeniceError,
    error_from_response,
)
from .._models import ModelInfo, check_model_arg, find_model, parse_models
from .._net import is_loopback_host
from .._params import Upload, edit_options
from .._result import EditResult, build_result
from . import _account, _aliases, _failure_guard, _request, _upscale
from ._request import PreparedRequest
from ._retry import retry_delay, should_retry

if TYPE_CHECKING:
    from .._store._store import ResultStore, StoreMode

__all__ = ["AsyncClient", "Client"]

log = logging.getLogger("venice_nb")
T = TypeVar("T")


class _Secret:
    """Holds the key so that no repr, log or traceback of the client can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("the API key is not picklable")


class _BaseClient:
    """Configuration, auth headers, model cache and the parts of sending that do no I/O."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        wallet: str | None = None,
        wallet_header: Literal["SIGN-IN-WITH-X", "X-Sign-In-With-X"] = "SIGN-IN-WITH-X",
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        store: ResultStore | str | os.PathLike | bool | None = None,
        store_mode: StoreMode | None = None,
    ) -> None:
        for name, value in (("api_key", api_key), ("base_url", base_url), ("wallet", wallet)):
            if value is not None:
                guards.text(value, name)
        if not isinstance(timeout, httpx.Timeout):
            guards.positive(timeout, "timeout")
        guards.count(max_retries, "max_retries", minimum=0)
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        base = base_url or os.environ.get(BASE_URL_ENV) or None
        guards.choice(wallet_header, "wallet_header", (SIWX_HEADER, SIWX_LEGACY_HEADER))
        self._secret = _Secret(_header_safe(key, "API key")) if key else None
        self._wallet = _Secret(_header_safe(wallet, "wallet value")) if wallet else None
        self._wallet_header = wallet_header
        # True: the local backend answers; False: Venice; None: a server on this machine not
        # started here (`venice-nb serve`?), told apart by its model names once they are read.
        self._local: bool | None = False
        if base is None and key is None and wallet is None:
            from .._backend import shared_backend

            base = shared_backend().url
            self._local = True
            from .._notice import local_backend_notice  # issue 13: no port in saved notebooks

            local_backend_notice(base)
        self.base_url = (base or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = (
            timeout
            if isinstance(timeout, httpx.Timeout)
            else httpx.Timeout(timeout, connect=min(DEFAULT_CONNECT_TIMEOUT, timeout))
        )
        self.max_retries = max_retries
        self._models: dict[str, list[ModelInfo]] = {}
        credential = self._secret or self._wallet
        # Who the server counts: the failure guard and the experiments' pacer are shared per caller.
        secret = credential.reveal() if credential else None
        self._caller = _failure_guard.caller_id(self.base_url, secret)
        self._window = _failure_guard.window_for(self._caller)
        # Paid answers are kept by default (never pay twice, never lose one); a server on
        # this machine (the local backend) is free, so its answers are stored only when asked.
        on_this_machine = is_loopback_host(httpx.URL(self.base_url).host)
        if on_this_machine and not self._local:
            from .._backend import serves

            self._local = True if serves(self.base_url) else None
        if store is None:  # a mode set in the environment turns it on for local servers too
            store = not on_this_machine or bool(os.environ.get(STORE_MODE_ENV))
        self.store = _open_store(store, store_mode)

    def __reduce__(self) -> Any:
        # Refused up front (not left to httpx's unpicklable parts), so no copy of the key can
        # ever reach a pickle, whatever the transport.
        raise TypeError(
            f"a venice_nb {type(self).__name__} is not picklable (it holds the API key); "
            "make a new client in each process"
        )

    @property
    def is_local(self) -> bool:
        """True when the local venice_nb backend answers this client, not Venice."""
        return bool(self._local)

    @property
    def has_credentials(self) -> bool:
        """A key or wallet is set: the account endpoints (balance, limits) answer only then."""
        return self._secret is not None or self._wallet is not None

    @property
    def _local_unknown(self) -> bool:
        return self._local is None

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"venice_nb/{__version__}", "Accept": "image/*, application/json"}
        if self._secret is not None:
            headers[AUTH_HEADER] = f"Bearer {self._secret.reveal()}"
        if self._wallet is not None:
            headers[self._wallet_header] = self._wallet.reveal()
        return headers

    def _request_kwargs(self, prepared: PreparedRequest) -> dict[str, Any]:
        if prepared.upload == "multipart":
            form, files = prepared.multipart()
            return {"data": form, "files": files}
        return {"content": prepared.json_body(), "headers": {"Content-Type": "application/json"}}

    @property
    def _may_send(self) -> bool:
        """False in replay-only mode, which never touches the network."""
        return self.store is None or self.store.mode != "replay"

    def _finish(
        self, prepared: PreparedRequest, response: httpx.Response, elapsed: float
    ) -> EditResult | VeniceError:
        """A result (stored first, when a store is set) or the typed error for this answer."""
        headers = _lower_headers(response)
        if response.status_code != 200:
            return error_from_response(response.status_code, headers, response.content)
        if not headers.get("content-type", "").startswith("image/"):
            return APIConnectionError(
                f"expected an image, got {headers.get('content-type') or 'no content type'}",
                action="check base_url points at the Venice API (…/api/v1)",
            )
        stored = None
        if self.store is not None:  # a paid result reaches disk before anything else can fail
            stored = self.store.record(prepared, headers, response.content, elapsed, self.is_local)
        return build_result(
            prepared,
            headers,
            response.content,
            elapsed=elapsed,
            is_local=self.is_local,
            stored_path=stored,
        )

    def _lookup_store(self, prepared: PreparedRequest) -> EditResult | None:
        """A stored answer from the same kind of backend (a simulated edit never stands in for
        a paid one, nor the reverse)."""
        if not isinstance(prepared, PreparedRequest):
            raise ValidationError(
                f"send() takes a prepared request, not a {type(prepared).__name__}",
                action="call client.edit(...) / multi_edit(...), or pass what "
                "venice_nb._client._request.prepare_edit(...) returns",
                field="prepared",
            )
        if self.store is None:
            return None
        return self.store.lookup(prepared, is_local=self.is_local)

    def _post_kwargs(self, prepared: PreparedRequest) -> dict[str, Any]:
        kwargs = self._request_kwargs(prepared)
        kwargs["headers"] = {**self._headers(), **kwargs.get("headers", {})}
        return {"url": f"{self.base_url}{prepared.path}", **kwargs}

    def _models_get_kwargs(self, type: str) -> dict[str, Any]:
        return {
            "url": f"{self.base_url}{MODELS_PATH}",
            "params": {"type": type},
            "headers": self._headers(),
        }

    def _known_models(self, type: str, refresh: bool) -> list[ModelInfo] | None:
        """The models this client already has (or its replay-only store holds), else None."""
        if not isinstance(type, str) or not type:
            raise ValidationError(
                f"type={type!r:.40} is not a model type",
                action="use a type such as 'inpaint' (edit models), the default",
                field="type",
            )
        if not refresh and type in self._models:
            return list(self._models[type])
        return self._replayed_models(type)

    def _replayed_models(self, type: str) -> list[ModelInfo] | None:
        """In replay-only mode the store's copy of the model list: replay sends nothing."""
        if self.store is None or self.store.mode != "replay":
            return None
        payload = self.store.load_models(type, base_url=self.base_url)
        if payload is None:
            raise ReplayMissError(
                f"replay-only: no model list ({type}) is stored for {self.base_url}; "
                "nothing was sent"
            )
        return self._cache_models(type, payload)

    def _models_response(
        self, type: str, response: httpx.Response
    ) -> list[ModelInfo] | VeniceError:
        if response.status_code != 200:
            headers = _lower_headers(response)
            return error_from_response(response.status_code, headers, response.content)
        payload = response.json()
        if self.store is not None and self.store.mode != "replay":
            self.store.save_models(type, payload, base_url=self.base_url)
        return self._cache_models(type, payload)

    def _cache_models(self, type: str, payload: Any) -> list[ModelInfo]:
        models = parse_models(payload)
        self._models[type] = models
        if self._local is None and models:  # a loopback server: its names tell what it is
            self._local = all(m.is_local for m in models)
        return list(models)

    def _retry_delay(
        self,
        error: VeniceError,
        attempt: int,
        on_retry: Callable[[VeniceError, float], None] | None,
    ) -> float:
        """The delay before the next try, or ``error`` raised when it is not worth one."""
        if attempt >= self.max_retries or not should_retry(error):
            raise error
        delay = retry_delay(error, attempt)
        log.info("venice_nb: %s; retrying in %.2fs", error.message, delay)
        if on_retry is not None:
            on_retry(error, delay)
        return delay

    def __repr__(self) -> str:
        # getattr: a constructor that raised half-way still leaves an object to show
        where = "local backend" if getattr(self, "_local", False) else "Venice"
        secret, wallet = getattr(self, "_secret", None), getattr(self, "_wallet", None)
        auth = "api key set" if secret else ("wallet" if wallet else "no auth")
        url = getattr(self, "base_url", "(not configured)")
        return f"{type(self).__name__}({where} at {url}, {auth})"


def _lower_headers(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


def _header_safe(value: str, what: str) -> str:
    """Refuse values httpx would reject with the whole header (value included) in its error."""
    if value != value.strip() or not value.isascii() or not value.isprintable():
        raise ValidationError(
            f"the {what} has whitespace, control or non-ASCII characters",
            action="strip it (e.g. Path(...).read_text().strip()) and check it was copied whole",
        )
    return value


def _open_store(store: Any, mode: StoreMode | None) -> ResultStore | None:
    """``True``: the default location; a path: a store there; ``False``: none."""
    from .._store._store import ResultStore, default_store_path

    if mode is not None:
        guards.choice(mode, "store_mode", STORE_MODES)
    if not isinstance(store, (ResultStore, bool, str, os.PathLike)):
        raise ValidationError(
            f"store={store!r:.60} is not a store",
            action="pass True (the default folder), a folder path, a ResultStore or False",
            field="store",
        )
    if store is False or mode == "off":
        return None

    if isinstance(store, ResultStore):
        return store
    return ResultStore(default_store_path() if store is True else store, mode=mode)


def _transport_error(exc: httpx.HTTPError) -> VeniceError:
    # Only the exception's type and text: httpx keeps the request (with auth headers) on it.
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.LocalProtocolError):  # its text can quote our own headers
        return APIConnectionError(f"the request could not be sent ({type(exc).__name__})")
    return APIConnectionError(f"connection failed: {type(exc).__name__}: {exc}")


class Client(_BaseClient):
    """Synchronous client. With no key it uses the local offline backend and says so."""

    # How the client waits (retry backoff, failure window); tests swap in a recorder.
    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(
        self, api_key: str | None = None, *, http_client: httpx.Client | None = None, **kwargs: Any
    ) -> None:
        super().__init__(api_key, **kwargs)
        self._http = http_client or httpx.Client(timeout=self.timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def models(self, type: str = "inpaint", *, refresh: bool = False) -> list[ModelInfo]:
        """Models of one type from ``GET /models``, fetched once per client."""
        known = self._known_models(type, refresh)
        if known is not None:
            return known
        return self._with_retries(
            lambda: self._http.get(**self._models_get_kwargs(type)),
            lambda response, _elapsed: self._models_response(type, response),
        )

    def upscale(
        self,
        image: Any,
        *,
        scale: int = 2,
        creativity: float | None = None,
        upload: Upload = "json",
        fit: bool = False,
    ) -> EditResult:
        """``POST /image/upscale``: the image 2x or 4x larger, priced from the model list."""
        prepared = _upscale.prepare_upscale(
            image, scale=scale, creativity=creativity, upload=upload, fit=fit
        )
        return self.send(_upscale.priced(prepared, self.models("upscale")))

    def balance(self) -> _account.Balance:
        """The key's balance (``GET /billing/balance``), to check before a large run."""
        url = f"{self.base_url}{_account.BALANCE_PATH}"
        return self._with_retries(
            lambda: self._http.get(url, headers=self._headers()),
            lambda response, _elapsed: _account.parse(response, _account.Balance),
        )

    def rate_limits(self) -> _account.RateLimits:
        """The key's stated limits per model (``GET /api_keys/rate_limits``)."""
        url = f"{self.base_url}{_account.RATE_LIMITS_PATH}"
        return self._with_retries(
            lambda: self._http.get(url, headers=self._headers()),
            lambda response, _elapsed: _account.parse(response, _account.RateLimits),
        )

    def _model(self, model: str | ModelInfo | None) -> ModelInfo | None:
        checked = check_model_arg(model)  # a wrong type fails before models are fetched
        if not isinstance(checked, str):
            return checked
        models = self.models("inpaint")
        if not _aliases.is_listed(checked, models) and self._may_send:
            legacy = _aliases.mapping(self._http, self.base_url, self._headers(), "inpaint")
            checked = _aliases.resolve(checked, legacy)
        return find_model(models, checked)

    def edit(
        self,
        image: Any,
        prompt: str,
        *,
        model: str | ModelInfo | None = None,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        output_format: str | None = None,
        safe_mode: bool | None = None,
        enhance_prompt: bool | None = None,
        upload: Upload = "json",
        fit: bool = False,
    ) -> EditResult:
        """Edit one image with a prompt (``POST /image/edit``)."""
        options = edit_options(locals())
        _request.precheck(prompt, options)  # before the model list is fetched
        prepared = _request.prepare_edit(image, prompt, model=self._model(model), **options)
        return self.send(prepared)

    def multi_edit(
        self,
        images: Any,
        prompt: str,
        *,
        model: str | ModelInfo | None = None,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        quality: str | None = None,
        output_format: str | None = None,
        safe_mode: bool | None = None,
        enhance_prompt: bool | None = None,
        upload: Upload = "json",
        fit: bool = False,
    ) -> EditResult:
        """Edit a base image with mask/overlay/reference layers, or a ``LayerStack``."""
        options = edit_options(locals())
        _request.precheck(prompt, options)  # before the model list is fetched
        prepared = _request.prepare_multi_edit(
            images, prompt, model=self._model(model), **options
        )
        return self.send(prepared)

    def edit_region(
        self,
        image: Any,
        mask: Any,
        prompt: str,
        *,
        model: str | ModelInfo | None = None,
        context: float = REGION_CONTEXT,
        feather: int | None = None,
        resolution: str | None = None,
        quality: str | None = None,
        output_format: str | None = None,
        safe_mode: bool | None = None,
        enhance_prompt: bool | None = None,
        upload: Upload = "json",
    ) -> EditResult:
        """Edit only where ``mask`` is white and keep every other pixel of the photo.

        Venice takes no mask and regenerates whole frames at its tier, so this crops the mask's
        box with ``context`` (share of the mask's size) around it, sends that crop (with the
        mask as a layer for models that take layers), and stitches the answer back into the
        full-resolution photo through a ``feather`` (pixels, inside the painted edge). The
        result has the photo's size and format; ``.raw`` is Venice's answer, ``.spill`` the
        share of pixels outside the mask the model changed in it. One request, priced as one.
        """
        from . import _region_edit  # numpy and Pillow: loaded when first needed

        options = edit_options(locals())
        _request.precheck(prompt, options)  # before the model list is fetched
        inputs = _region_edit.read_region(image, mask, context=context, feather=feather)
        job = _region_edit.prepare_region(inputs, prompt, self._model(model), options)
        return _region_edit.finish_region(job, self.send(job.prepared))

    def remove_background(
        self, image: Any, *, upload: Upload = "json", fit: bool = False
    ) -> EditResult:
        """Cut out the subject: a PNG with alpha (``POST /image/background-remove``).
        ``fit=True`` shrinks an image over the pixel limit instead of refusing it."""
        prepared = _request.prepare_background_remove(image, upload=upload, fit=fit)
        if self._local_unknown:  # this answer has no model name to show where it came from
            self.models()
        return self.send(prepared)

    def send(
        self,
        prepared: PreparedRequest,
        on_retry: Callable[[VeniceError, float], None] | None = None,
    ) -> EditResult:
        """Send a prepared request with retries; the store answers first when it has it."""
        stored = self._lookup_store(prepared)
        if stored is not None:
            return stored
        return self._with_retries(
            lambda: self._http.post(**self._post_kwargs(prepared)),
            lambda response, elapsed: self._finish(prepared, response, elapsed),
            on_retry,
        )

    def _with_retries(
        self,
        call: Callable[[], httpx.Response],
        finish: Callable[[httpx.Response, float], T | VeniceError],
        on_retry: Callable[[VeniceError, float], None] | None = None,
    ) -> T:
        """One request with retries, paced by the failure window."""
        for attempt in range(self.max_retries + 1):
            while (wait := self._window.reserve()) > 0:
                self._sleep(wait)
            start = time.monotonic()
            try:
                outcome = finish(call(), time.monotonic() - start)
            except httpx.HTTPError as exc:
                outcome = _transport_error(exc)
            except BaseException:
                self._window.release(failed=False)
                raise
            self._window.release(failed=isinstance(outcome, VeniceError))
            if not isinstance(outcome, VeniceError):
                return outcome
            self._sleep(self._retry_delay(outcome, attempt, on_retry))
        raise AssertionError("unreachable")


class AsyncClient(_BaseClient):
    """The asyncio twin of ``Client``: same arguments, same results, ``await`` each call."""

    # How the client waits (retry backoff, failure window); tests swap in a recorder.
    _sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)

    def __init__(
        self,
        api_key: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, **kwargs)
        self._http = http_client or httpx.AsyncClient(timeout=self.timeout)
        self._models_lock: asyncio.Lock | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def models(self, type: str = "inpaint", *, refresh: bool = False) -> list[ModelInfo]:
        """Models of one type from ``GET /models``, fetched once per client."""
        if self._models_lock is None:
            self._models_lock = asyncio.Lock()
        async with self._models_lock:
            known = self._known_models(type, refresh)
            if known is not None:
                return known
            return await self._with_retries(
                lambda: self._http.get(**self._models_get_kwargs(type)),
                lambda response, _elapsed: self._models_response(type, response),
            )

    async def upscale(
        self,
        image: Any,
        *,
        scale: int = 2,
        creativity: float | None = None,
        upload: Upload = "json",
        fit: bool = False,
    ) -> EditResult:
        """``POST /image/upscale``: the image 2x or 4x larger, priced from the model list."""
        prepared = _upscale.prepare_upscale(
            image, scale=scale, creativity=creativity, upload=upload, fit=fit
        )
        return await self.send(_upscale.priced(prepared, await self.models("upscale")))

    async def balance(self) -> _account.Balance:
        """The key's balance (``GET /billing/balance``), to check before a large run."""
        url = f"{self.base_url}{_account.BALANCE_PATH}"
        return await self._with_retries(
            lambda: self._http.get(url, headers=self._headers()),
            lambda response, _elapsed: _account.parse(response, _account.Balance),
        )

    async def rate_limits(self) -> _account.RateLimits:
        """The key's stated limits per model (``GET /api_keys/rate_limits``)."""
        url = f"{self.base_url}{_account.RATE_LIMITS_PATH}"
        return await self._with_retries(
            lambda: self._http.get(url, headers=self._headers()),
            lambda response, _elapsed: _account.parse(response, _account.RateLimits),
        )

    async def _model(self, model: str | ModelInfo | None) -> ModelInfo | None:
        checked = check_model_arg(model)  # a wrong type fails before models are fetched
        if not isinstance(checked, str):
            return checked
        models = await self.models("inpaint")
        if not _aliases.is_listed(checked, models) and self._may_send:
            legacy = await _aliases.amapping(self._http, self.base_url, self._headers(), "inpaint")
            checked = _aliases.resolve(checked, legacy)
        return find_model(models, checked)

    async def edit(
        self,
        image: Any,
        prompt: str,
        *,
        model: str | ModelInfo | None = None,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        output_format: str | None = None,
        safe_mode: bool | None = None,
        enhance_prompt: bool | None = None,
        upload: Upload = "json",
        fit: bool = False,
    ) -> EditResult:
        """Edit one image with a prompt (``POST /image/edit``)."""
        options = edit_options(locals())
        _request.precheck(prompt, options)  # before the model list is fetched
        prepared = _request.prepare_edit(image, prompt, model=await self._model(model), **options)
        return await self.send(prepared)

    async def multi_edit(
        self,
        images: Any,
        prompt: str,
        *,
        model: str | ModelInfo | None = None,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        quality: str | None = None,
        output_format: str | None = None,
        safe_mode: bool | None = None,
        enhance_prompt: bool | None = None,
        upload: Upload = "json",
        fit: bool = False,
    ) -> EditResult:
        """Edit a base image with mask/overlay/reference layers, or a ``LayerStack``."""
        options = edit_options(locals())
        _request.precheck(prompt, options)  # before the model list is fetched
        prepared = _request.prepare_multi_edit(
            images, prompt, model=await self._model(model), **options
        )
        return await self.send(prepared)

    async def edit_region(
        self,
        image: Any,
        mask: Any,
        prompt: str,
        *,
        model: str | ModelInfo | None = None,
        context: float = REGION_CONTEXT,
        feather: int | None = None,
        resolution: str | None = None,
        quality: str | None = None,
        output_format: str | None = None,
        safe_mode: bool | None = None,
        enhance_prompt: bool | None = None,
        upload: Upload = "json",
    ) -> EditResult:
        """``Client.edit_region``'s twin: the decode, crop and stitch run in a worker thread,
        so a large photo never stalls the event loop (a kernel's widgets stay live)."""
        from . import _region_edit  # numpy and Pillow: loaded when first needed

        options = edit_options(locals())
        _request.precheck(prompt, options)  # before the model list is fetched
        inputs = await asyncio.to_thread(
            _region_edit.read_region, image, mask, context=context, feather=feather
        )
        info = await self._model(model)
        job = await asyncio.to_thread(_region_edit.prepare_region, inputs, prompt, info, options)
        raw = await self.send(job.prepared)
        return await asyncio.to_thread(_region_edit.finish_region, job, raw)

    async def remove_background(
        self, image: Any, *, upload: Upload = "json", fit: bool = False
    ) -> EditResult:
        """Cut out the subject: a PNG with alpha (``POST /image/background-remove``).
        ``fit=True`` shrinks an image over the pixel limit instead of refusing it."""
        prepared = _request.prepare_background_remove(image, upload=upload, fit=fit)
        if self._local_unknown:  # this answer has no model name to show where it came from
            await self.models()
        return await self.send(prepared)

    async def send(
        self,
        prepared: PreparedRequest,
        on_retry: Callable[[VeniceError, float], None] | None = None,
    ) -> EditResult:
        """Send a prepared request with retries; the store answers first when it has it."""
        stored = self._lookup_store(prepared)
        if stored is not None:
            return stored
        return await self._with_retries(
            lambda: self._http.post(**self._post_kwargs(prepared)),
            lambda response, elapsed: self._finish(prepared, response, elapsed),
            on_retry,
        )

    async def _with_retries(
        self,
        call: Callable[[], Awaitable[httpx.Response]],
        finish: Callable[[httpx.Response, float], T | VeniceError],
        on_retry: Callable[[VeniceError, float], None] | None = None,
    ) -> T:
        """One request with retries, paced by the failure window (the async twin)."""
        for attempt in range(self.max_retries + 1):
            while (wait := self._window.reserve()) > 0:
                await self._sleep(wait)
            start = time.monotonic()
            try:
                response = await call()
                # Off the event loop: storing a paid result fsyncs, which would stall a kernel's
                # widgets; a cancellation now still lets the write finish.
                outcome = await asyncio.to_thread(finish, response, time.monotonic() - start)
            except httpx.HTTPError as exc:
                outcome = _transport_error(exc)
            except BaseException:  # cancelled: free the slot, count nothing
                self._window.release(failed=False)
                raise
            self._window.release(failed=isinstance(outcome, VeniceError))
            if not isinstance(outcome, VeniceError):
                return outcome
            await self._sleep(self._retry_delay(outcome, attempt, on_retry))
        raise AssertionError("unreachable")

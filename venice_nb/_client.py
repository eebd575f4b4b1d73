"""``Client`` and ``AsyncClient``: thin I/O twins over the shared builders in ``_request``.

Everything that decides *what* to send lives in ``_request``; everything that decides *whether
to try again* lives in ``_retry``. The two classes here only move bytes, sleep and await.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx

from . import __version__, _account, _aliases, _guard, _request, _upscale
from ._constants import (
    API_KEY_ENV,
    AUTH_HEADER,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    MODELS_PATH,
    SIWX_HEADER,
    SIWX_LEGACY_HEADER,
    STORE_MODE_ENV,
)
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    ReplayMissError,
    ValidationError,
    VeniceError,
    error_from_response,
)
from ._models import ModelInfo, parse_models
from ._net import is_loopback_host
from ._request import PreparedRequest, Upload
from ._result import EditResult, build_result
from ._retry import retry_delay, should_retry

if TYPE_CHECKING:
    from ._store import ResultStore

__all__ = ["AsyncClient", "Client"]

log = logging.getLogger("venice_nb")
T = TypeVar("T")
_VERSION = __version__


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
        wallet_header: Literal["SIGN-IN-WITH-X", "X-Sign-In-With-X"] = SIWX_HEADER,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        store: ResultStore | str | os.PathLike | bool | None = None,
        store_mode: str | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        base = base_url or os.environ.get(BASE_URL_ENV) or None
        if wallet_header not in (SIWX_HEADER, SIWX_LEGACY_HEADER):
            raise ValidationError(
                f"wallet_header={wallet_header!r}",
                action=f"use {SIWX_HEADER!r} or {SIWX_LEGACY_HEADER!r}",
            )
        self._secret = _Secret(_header_safe(key, "API key")) if key else None
        self._wallet = _Secret(_header_safe(wallet, "wallet value")) if wallet else None
        self._wallet_header = wallet_header
        # True: the local backend answers; False: Venice; None: a server on this machine not
        # started here (`venice-nb serve`?), told apart by its model names once they are read.
        self._local: bool | None = False
        if base is None and key is None and wallet is None:
            from ._backend import shared_backend

            base = shared_backend().url
            self._local = True
            log.warning(
                "venice_nb: no %s set, using the offline local backend at %s "
                "(simulated edits, no cost). Set %s to use Venice.",
                API_KEY_ENV,
                base,
                API_KEY_ENV,
            )
        self.base_url = (base or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = (
            timeout
            if isinstance(timeout, httpx.Timeout)
            else httpx.Timeout(timeout, connect=min(DEFAULT_CONNECT_TIMEOUT, timeout))
        )
        if max_retries < 0:
            raise ValidationError("max_retries must be >= 0", action="use 0 to disable retries")
        self.max_retries = max_retries
        self._models: dict[str, list[ModelInfo]] = {}
        credential = self._secret or self._wallet
        self._window = _guard.window_for(self.base_url, credential.reveal() if credential else None)
        # Paid answers are kept by default (never pay twice, never lose one); a server on
        # this machine (the local backend) is free, so its answers are stored only when asked.
        on_this_machine = is_loopback_host(httpx.URL(self.base_url).host)
        if on_this_machine and not self._local:
            from ._backend import serves

            self._local = True if serves(self.base_url) else None
        if store is None:  # a mode set in the environment turns it on for local servers too
            store = not on_this_machine or bool(os.environ.get(STORE_MODE_ENV))
        self.store = _open_store(store, store_mode)

    @property
    def is_local(self) -> bool:
        """True when the local venice_nb backend answers this client, not Venice."""
        return bool(self._local)

    @property
    def _local_unknown(self) -> bool:
        return self._local is None

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"venice_nb/{_VERSION}", "Accept": "image/*, application/json"}
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

    def _find_model(
        self, models: list[ModelInfo], model: str | ModelInfo | None
    ) -> ModelInfo | None:
        if model is None or isinstance(model, ModelInfo):
            return model
        for info in models:
            if info.id != model:
                continue
            if info.offline:
                raise ValidationError(
                    f"{model} is offline right now",
                    action="pick another model from client.models(type='inpaint')",
                    field="model",
                )
            return info
        close = difflib.get_close_matches(model, [m.id for m in models], n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ValidationError(
            f"unknown edit model {model!r}",
            action=f"{hint}see client.models(type='inpaint') for the ids",
            field="model",
        )

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

    def _settle(
        self,
        outcome: object,
        attempt: int,
        on_retry: Callable[[VeniceError, float], None] | None,
    ) -> float | None:
        """Free the failure-window slot; None when done, else the delay before the next try."""
        self._window.release(failed=isinstance(outcome, VeniceError))
        if not isinstance(outcome, VeniceError):
            return None
        if attempt >= self.max_retries or not should_retry(outcome):
            raise outcome
        delay = retry_delay(outcome, attempt)
        log.info("venice_nb: %s; retrying in %.2fs", outcome.message, delay)
        if on_retry is not None:
            on_retry(outcome, delay)
        return delay

    def __repr__(self) -> str:
        where = "local backend" if self.is_local else "Venice"
        auth = "api key set" if self._secret else ("wallet" if self._wallet else "no auth")
        return f"{type(self).__name__}({where} at {self.base_url}, {auth})"


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


def _open_store(store: Any, mode: str | None) -> ResultStore | None:
    """``True``: the default location; a path: a store there; ``False``: none."""
    if store is False or mode == "off":
        return None
    from ._store import ResultStore, default_store_path

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
        if not refresh and type in self._models:
            return list(self._models[type])
        replayed = self._replayed_models(type)
        if replayed is not None:
            return replayed
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
        if model is None:
            return None
        models = self.models("inpaint")
        if isinstance(model, str) and not _aliases.is_listed(model, models) and self._may_send:
            legacy = _aliases.mapping(self._http, self.base_url, self._headers(), "inpaint")
            model = _aliases.resolve(model, legacy)
        return self._find_model(models, model)

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
        prepared = _request.prepare_edit(
            image,
            prompt,
            model=self._model(model),
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            output_format=output_format,
            safe_mode=safe_mode,
            enhance_prompt=enhance_prompt,
            upload=upload,
            fit=fit,
        )
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
        prepared = _request.prepare_multi_edit(
            images,
            prompt,
            model=self._model(model),
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            quality=quality,
            output_format=output_format,
            safe_mode=safe_mode,
            enhance_prompt=enhance_prompt,
            upload=upload,
            fit=fit,
        )
        return self.send(prepared)

    def remove_background(self, image: Any, *, upload: Upload = "json") -> EditResult:
        """Cut out the subject: a PNG with alpha (``POST /image/background-remove``)."""
        if self._local_unknown:  # this answer has no model name to show where it came from
            self.models()
        return self.send(_request.prepare_background_remove(image, upload=upload))

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
                time.sleep(wait)
            start = time.monotonic()
            try:
                outcome = finish(call(), time.monotonic() - start)
            except httpx.HTTPError as exc:
                outcome = _transport_error(exc)
            except BaseException:
                self._window.release(failed=False)
                raise
            delay = self._settle(outcome, attempt, on_retry)
            if delay is None:
                return outcome  # type: ignore[return-value]
            time.sleep(delay)
        raise AssertionError("unreachable")


class AsyncClient(_BaseClient):
    """The asyncio twin of ``Client``: same arguments, same results, ``await`` each call."""

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
            if not refresh and type in self._models:
                return list(self._models[type])
            replayed = self._replayed_models(type)
            if replayed is not None:
                return replayed
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
        if model is None:
            return None
        models = await self.models("inpaint")
        if isinstance(model, str) and not _aliases.is_listed(model, models) and self._may_send:
            legacy = await _aliases.amapping(self._http, self.base_url, self._headers(), "inpaint")
            model = _aliases.resolve(model, legacy)
        return self._find_model(models, model)

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
        prepared = _request.prepare_edit(
            image,
            prompt,
            model=await self._model(model),
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            output_format=output_format,
            safe_mode=safe_mode,
            enhance_prompt=enhance_prompt,
            upload=upload,
            fit=fit,
        )
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
        prepared = _request.prepare_multi_edit(
            images,
            prompt,
            model=await self._model(model),
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            quality=quality,
            output_format=output_format,
            safe_mode=safe_mode,
            enhance_prompt=enhance_prompt,
            upload=upload,
            fit=fit,
        )
        return await self.send(prepared)

    async def remove_background(self, image: Any, *, upload: Upload = "json") -> EditResult:
        """Cut out the subject: a PNG with alpha (``POST /image/background-remove``)."""
        if self._local_unknown:  # this answer has no model name to show where it came from
            await self.models()
        return await self.send(_request.prepare_background_remove(image, upload=upload))

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
                await asyncio.sleep(wait)
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
            delay = self._settle(outcome, attempt, on_retry)
            if delay is None:
                return outcome  # type: ignore[return-value]
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

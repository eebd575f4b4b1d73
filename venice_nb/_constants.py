"""Every number and name the Venice image-edit contract fixes, in one place.

Sources: ``openapi.yaml`` (wins) and the image-editing guide. Nothing else in the package
re-types these values.
"""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.venice.ai/api/v1"
API_KEY_ENV = "VENICE_API_KEY"
BASE_URL_ENV = "VENICE_BASE_URL"

EDIT_PATH = "/image/edit"
MULTI_EDIT_PATH = "/image/multi-edit"
BACKGROUND_REMOVE_PATH = "/image/background-remove"
UPSCALE_PATH = "/image/upscale"
MODELS_PATH = "/models"

# Pixel and size limits for input images (spec: "at least 65536 pixels and must not exceed
# 33177600 pixels. File size must be less than 25MB").
MIN_PIXELS = 65_536
MAX_PIXELS = 33_177_600
MAX_IMAGE_BYTES = 25_000_000
MAX_PROMPT_CHARS = 32_768

ASPECT_RATIOS = ("auto", "1:1", "3:2", "16:9", "21:9", "9:16", "2:3", "3:4", "4:5")
OUTPUT_FORMATS = ("jpeg", "png", "webp")
OUTPUT_FORMAT_ALIASES = {"jpg": "jpeg"}
QUALITIES = ("low", "medium", "high")
RESOLUTIONS = ("1K", "2K", "4K")
# The spec lists no fixed set of resolutions (they vary by model), only a length: 1 to 10.
MAX_RESOLUTION_CHARS = 10
# When ``maxInputImages`` is absent: 3, or 1 when the model cannot combine images.
DEFAULT_MAX_INPUT_IMAGES = 3

# Formats Venice decodes; anything else is re-encoded before sending.
ACCEPTED_INPUT_MIME = ("image/png", "image/jpeg", "image/webp")

# Model names served by the local backend end with this; it is how anyone can tell the local
# backend from Venice, since the wire contract is otherwise identical.
LOCAL_NAME_SUFFIX = " (venice_nb local)"

# Authentication headers. The spec's wallet header is SIGN-IN-WITH-X; the pages' older name is
# still accepted by Venice "during migration".
AUTH_HEADER = "Authorization"
SIWX_HEADER = "SIGN-IN-WITH-X"
SIWX_LEGACY_HEADER = "X-Sign-In-With-X"
PAYMENT_REQUIRED_HEADER = "PAYMENT-REQUIRED"

# Response headers worth keeping on a result.
H_MODEL_ID = "x-venice-model-id"
H_MODEL_NAME = "x-venice-model-name"
H_CONTENT_VIOLATION = "x-venice-is-content-violation"
H_DEPRECATION_WARNING = "x-venice-model-deprecation-warning"
H_DEPRECATION_DATE = "x-venice-model-deprecation-date"
H_DEPRECATED = "x-venice-deprecated"
H_DEPRECATED_REPLACEMENT = "x-venice-deprecated-replacement"
H_BALANCE_REMAINING = "x-balance-remaining"
H_ENHANCED_PROMPT = "x-venice-enhanced-prompt"
H_RATELIMIT_LIMIT = "x-ratelimit-limit-requests"
H_RATELIMIT_REMAINING = "x-ratelimit-remaining-requests"
H_RATELIMIT_RESET = "x-ratelimit-reset-requests"
H_RETRY_AFTER = "retry-after"
RESULT_HEADERS = (
    H_MODEL_ID,
    H_MODEL_NAME,
    H_CONTENT_VIOLATION,
    H_DEPRECATION_WARNING,
    H_DEPRECATION_DATE,
    H_DEPRECATED,
    H_DEPRECATED_REPLACEMENT,
    H_BALANCE_REMAINING,
    H_ENHANCED_PROMPT,
    H_RATELIMIT_LIMIT,
    H_RATELIMIT_REMAINING,
    H_RATELIMIT_RESET,
    "content-type",
    "content-length",
    "date",
)

# Rate limits: 20 image requests a minute by default; more than 20 failed requests in 30
# seconds blocks the caller for 30 seconds.
DEFAULT_REQUESTS_PER_MINUTE = 20
FAILURE_BLOCK_COUNT = 20
FAILURE_BLOCK_WINDOW = 30.0
FAILURE_BLOCK_DURATION = 30.0

# Edits take tens of seconds (enhance_prompt adds ~30 s): allow minutes, not httpx's 5 s.
DEFAULT_TIMEOUT = 300.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2
RETRY_STATUSES = frozenset({429, 500, 503})
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 60.0

TOP_UP_URL = "https://venice.ai/settings/api"

# The result store: where it lives and how it answers (off, use, refresh, replay-only).
STORE_ENV = "VENICE_NB_STORE"
STORE_MODE_ENV = "VENICE_NB_STORE_MODE"
DEFAULT_STORE_DIR = ".venice_nb/store"
STORE_MODES = ("off", "use", "refresh", "replay")

# Region edits (Client.edit_region): context around the mask's box, as a share of its long side.
REGION_CONTEXT = 0.5

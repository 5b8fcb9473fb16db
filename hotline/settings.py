"""One typed settings object for every part, read from HOTLINE_* variables and an optional .env.

Defaults are the embedded ones (SQLite under var/, Rasa on localhost) so `make run` needs no
configuration; `HOTLINE_DATABASE_URL=postgresql://...` switches to PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# How long the app (uvicorn) keeps an idle keep-alive connection open. uvicorn's default, 5 s,
# is the very interval at which a chatting citizen's client reuses one: the app closed the
# connection just as the next request went out on it, and the request failed (17 of 300 at an
# idle of 4.95-5.05 s). A server must wait longer than its clients do: nginx's upstream
# keepalive_timeout is 60 s (deploy/nginx). Rasa 3.6 keeps its own idle connections 120 s
# (rasa/core/run.py, DEFAULT_KEEP_ALIVE_TIMEOUT), longer than the app's Rasa client (5 s).
KEEP_ALIVE_SECONDS = 75

Channel = Literal["web", "wechat", "voice", "api"]
_TIME = r"([01]\d|2[0-3]):[0-5]\d"
_HOURS = rf"^{_TIME}-({_TIME}|24:00)$"  # local opening hours, e.g. 08:00-20:00


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_file=".env", extra="ignore")

    # Where runtime state lives: databases, trained Rasa models, logs.
    var_dir: Path = PROJECT_ROOT / "var"
    # Paths and URLs derived from others are never None, so every reader may use them as they
    # are: model_post_init resolves the paths and fills an empty URL (as HOTLINE_DATABASE_URL="").
    # model_dir: trained Rasa models; unless set, cache_dir/bot-models: a model is named by the
    # fingerprint of everything its training reads (hotline/bot.py), so every clone and CI run
    # on a machine shares it, as they share the environments.
    model_dir: Path = Field(default_factory=lambda data: data["var_dir"] / "models")
    log_dir: Path = Field(default_factory=lambda data: data["var_dir"] / "log")
    database_url: str = ""  # empty: sqlite:///var_dir/hotline.db
    redis_url: str | None = None

    # The app process (FastAPI).
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # how users reach the app; empty: http://localhost:port
    # Behind a reverse proxy (docs/operations.md, "Cluster"): the addresses whose
    # X-Forwarded-For/-Proto the app believes (uvicorn --forwarded-allow-ips; "*": any, only when
    # nothing but the proxy can reach the app), so rate limits and the loopback-only doors see
    # the citizen's address, not the proxy's. `replica` names this process in the
    # X-Hotline-Replica response header (empty: no header).
    forwarded_allow_ips: str = "127.0.0.1"
    replica: str = ""

    # The Rasa process.
    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    rasa_url: str = ""  # set when Rasa runs elsewhere; empty: http://rasa_host:port
    rasa_env: Path = PROJECT_ROOT / ".venv-rasa"
    rasa_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for one bot turn")
    rasa_start_timeout: float = 300.0
    # After a failed turn, chat turns are answered by the triage layer without asking Rasa for
    # this long (or until /health finds it up): no citizen waits rasa_timeout on every message.
    rasa_retry_seconds: float = Field(default=5.0, ge=0)
    # Threads that run Rasa's custom action calls in the app (gateway/action_webhook.py): about
    # one per core; 3 held no more chat sessions than 2 on a 2-core machine.
    action_workers: int = Field(default=2, ge=1, le=32)

    # Knowledge: the embedding model (any sentence-transformers id or path; None = the offline
    # multilingual-e5-small rebuilt from PyPI packages) and where models/embeddings are cached.
    # Every part reads these two through model_paths() below.
    embedding_model: str | None = None
    cache_dir: Path = Path.home() / ".cache" / "hotline"
    embedding_threads: int = Field(default=1, ge=1, description="threads of the query encoder")
    knowledge_preload: bool = True  # load the model and index when the app starts

    # Work orders: how often this process scans SLA clocks for 催办 reminders (0: never). Safe
    # with several replicas: each reminder is recorded once (workorders/sla.py).
    sla_scan_seconds: float = 60.0
    # The 智能派单 router: a folder written by `hotline router train`; None = the router trained
    # from the responsibility table (cached under cache_dir/router).
    router_dir: Path | None = None

    # Voice (speech/): ASR engine "auto" picks Vosk when vosk_model_dir holds a Chinese model,
    # else the offline faster-whisper engine; TTS engine by name; the AudioSocket listener.
    asr_engine: Literal["auto", "vosk", "whisper"] = "auto"
    vosk_model_dir: Path | None = None
    tts_engine: str = "espeak"
    # Speech engines (speech/, docs/speech.md). whisper_model_dir: any CTranslate2 Whisper
    # folder; None = Whisper-base joined from its PyPI packages into cache_dir/models.
    whisper_model_dir: Path | None = None
    # Two decodes on one thread each beat one decode on two threads: no caller waits for
    # another's decode (BENCHMARKS.md "Voice: phone lines at centre scale"); one per core.
    asr_threads: int = Field(default=1, ge=1, description="CPU threads per Whisper decode")
    asr_decode_workers: int = Field(
        default=2, ge=1, description="Whisper decodes that run at once (each with asr_threads)"
    )
    asr_beam_size: int = Field(
        default=5, ge=1, description="Whisper beam width (1: greedy, faster)"
    )
    asr_end_silence: float = Field(
        default=0.6, gt=0, description="silence (s) that ends an utterance"
    )
    asr_partial_interval: float = 0.0  # s between Whisper partial decodes; 0: only a "…" partial
    # What Whisper's encoder sees (speech/whisper_decode.py): the utterance (about six times
    # cheaper; the phone lines' capacity) or faster-whisper's padded 30-s window (more accurate).
    asr_window: Literal["utterance", "30s"] = "utterance"
    asr_max_batch: int = Field(
        default=4, ge=1, description="utterances of different calls decoded as one batch"
    )
    asr_greedy_from: int = Field(
        default=2, ge=0, description="waiting utterances that switch to greedy decoding; 0: never"
    )
    # A transcript that sounds complete ends the utterance after 0.3 s of silence, not 0.6 s
    # (speech/turn_end.py).
    asr_end_when_complete: bool = True
    # Whisper weights in memory: int8 (fast, ~150 MB) or float32 (more accurate, ~300 MB).
    asr_compute_type: Literal["int8", "int16", "float32"] = "int8"
    tts_voice: str = "cmn-latn-pinyin+f3"  # espeak-ng voice (+variant)
    tts_speed: int = Field(default=175, ge=80, le=450, description="espeak-ng words per minute")
    # Graceful shutdown (docs/operations.md, "Stopping"): on SIGTERM/SIGINT every process stops
    # taking new work, tells live calls and transfers them, and exits within this many seconds.
    shutdown_seconds: float = Field(
        default=10.0, gt=0, le=300, description="seconds a process may take to stop"
    )
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = 0  # 0: no AudioSocket listener; Asterisk's usual choice is 9092
    max_calls: int = Field(
        default=8, ge=1, description="concurrent calls before new ones are refused"
    )
    voice_no_input_seconds: float = 6.0  # silence before a reprompt
    # The call session (speech/session.py, docs/voice.md).
    voice_max_reprompts: int = Field(
        default=2, ge=0, description="reprompts before asking for a person"
    )
    voice_min_confidence: float = Field(
        default=0.6, ge=0, le=1, description="finals below: confirm"
    )
    voice_transfer_queue: str = "12345"  # the Asterisk queue a transfer goes to
    voice_barge_in_rms: float = 900.0  # slin16 frame RMS counted as caller speech
    voice_barge_in_ms: int = Field(default=200, ge=20, description="speech that stops a prompt")
    voice_max_call_seconds: float = 1800.0  # then the call goes to a person
    voice_ws_trust_caller_id: bool = False  # WS clients (SIP gateways) may set caller_number

    # Accounts (accounts/, docs/operations.md). Bearer tokens and browser sessions expire; a
    # disabled user's end at once. Sign-in failures within the window lock the account name
    # (per_name) or the client address (per_address); each failure waits failure_delay seconds
    # times the account's failures so far (at most 5 s) before answering.
    token_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    session_minutes: int = Field(default=480, ge=1, le=7 * 24 * 60)
    signin_max_failures: int = Field(default=5, ge=1)
    signin_max_failures_address: int = Field(default=20, ge=1)
    signin_lockout_minutes: int = Field(default=15, ge=1)
    signin_failure_delay: float = Field(default=0.5, ge=0, le=5)
    # The action webhook (/webhook) answers Rasa only: calls from a loopback address, or with
    # this shared secret in the X-Hotline-Action-Secret header (hotline serve gives it to Rasa).
    # Behind a reverse proxy on the same host every call looks local: set the secret and
    # action_webhook_loopback=false there.
    action_secret: SecretStr | None = None
    action_webhook_loopback: bool = True
    # The PBX's endpoints (/api/v1/calls: a caller's number, a call's outcome) answer the PBX
    # only: loopback, an address in pbx_networks (CIDRs, e.g. ["10.0.0.0/24"]), or the shared
    # secret in the X-Hotline-PBX-Secret header (Asterisk: CURLOPT(httpheader)).
    pbx_secret: SecretStr | None = None
    pbx_networks: list[str] = Field(default_factory=list)
    pbx_loopback: bool = True
    # The WeChat Official Account channel (wechat/, docs/wechat.md): off (/wechat answers 404)
    # until wechat_token is set. wechat_aes_key is the EncodingAESKey of safe/compatible mode;
    # appid and secret fetch the access token of the customer-service message API (replies
    # that take longer than wechat_reply_seconds); wechat_api_base: a proxy or a test server.
    wechat_token: SecretStr | None = None
    wechat_appid: str = ""
    wechat_secret: SecretStr | None = None
    wechat_aes_key: SecretStr | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_reply_seconds: float = Field(default=4.0, gt=0, lt=5)  # WeChat waits 5 s
    wechat_replay_seconds: int = Field(default=300, ge=1)  # accepted clock difference
    # A waiting WeChat citizen is sent their new place in the queue at most this often.
    wechat_queue_notice_seconds: float = Field(default=60.0, ge=0)
    # Pictures a WeChat citizen sends are kept for their order up to this size (bytes).
    wechat_image_max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    # Cookies: secure (HTTPS only) when public_url is https, unless forced here.
    cookie_secure: bool | None = None

    # Operators and the handoff queue (handoffs/, docs/operations.md). A chat citizen who asks
    # for a person joins the queue when an operator is available (presence "available" and
    # active within operator_idle_minutes), within operator_hours (local time, "08:00-20:00";
    # "00:00-24:00" all day) and the expected wait is at most handoff_max_wait_minutes;
    # otherwise a call-back order is made. The expected wait counts
    # handoff_minutes_per_citizen for each citizen ahead, shared among available operators.
    operator_idle_minutes: float = Field(default=15.0, gt=0)
    operator_hours: str = Field(default="00:00-24:00", pattern=_HOURS)
    handoff_max_wait_minutes: float = Field(default=20.0, gt=0)
    handoff_minutes_per_citizen: float = Field(default=3.0, gt=0)

    # Department portal and 回访 (docs/operations.md): the largest file a department may attach
    # to a step of an order, and how long after 办结 an order the citizen has not rated waits
    # before the SLA scan closes it as 未回访.
    attachment_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    followup_hours: float = Field(default=72.0, gt=0)

    # Abuse limits (gateway/rate_limits.py, docs/operations.md): requests per window seconds
    # per sender and per client address; 0 turns one off. Shared through Redis when redis_url
    # is set. WeChat's servers post every citizen's message from a few addresses: its
    # per-address limit is high.
    rate_window_seconds: int = Field(default=60, ge=1)
    rate_chat_per_sender: int = Field(default=30, ge=0)
    rate_chat_per_address: int = Field(default=300, ge=0)
    rate_wechat_per_openid: int = Field(default=30, ge=0)
    rate_wechat_per_address: int = Field(default=6000, ge=0)
    rate_signin_per_name: int = Field(default=10, ge=0)
    rate_signin_per_address: int = Field(default=60, ge=0)

    # Retention (hotline/retention.py, `hotline retention run`): conversations older than this
    # are anonymised; the key of the senders' pseudonyms (None: var_dir/retention.key).
    retention_days: int = Field(default=365, ge=1)
    retention_key: SecretStr | None = None

    # Chat input limits (documented in docs/api.md). max_body_bytes: the largest JSON or form
    # body any route reads (413 above it); uploads and /wechat have their own limits.
    max_text_chars: int = 1000
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Rasa's action calls carry the whole tracker (gateway/body_limit.py); nginx's internal
    # door lets 16 MB through to the webhook.
    max_action_body_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    timezone: str = "Asia/Shanghai"
    service_hours: str = "12345热线全天24小时为您服务，节假日不休息。"

    def model_post_init(self, _context: object) -> None:
        self.var_dir = self.var_dir.resolve()
        self.cache_dir = self.cache_dir.expanduser().resolve()
        if self.router_dir is not None:
            self.router_dir = self.router_dir.expanduser().resolve()
        if "model_dir" not in self.model_fields_set:
            self.model_dir = self.cache_dir / "bot-models"
        self.model_dir = self.model_dir.resolve()
        self.log_dir = self.log_dir.resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'hotline.db'}"
        if not self.rasa_url:
            self.rasa_url = f"http://{self.rasa_host}:{self.rasa_port}"
        if not self.public_url:
            self.public_url = f"http://localhost:{self.port}"

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.public_url.startswith("https://")

    @property
    def action_webhook_url(self) -> str:
        """Where Rasa calls our custom actions: this app's /webhook."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/webhook"


@lru_cache
def get_settings() -> Settings:
    return Settings()


@dataclass(frozen=True)
class ModelPaths:
    """Which sentence-embedding model every part loads, and where models and caches live.

    The knowledge service, the router, repeat detection, the speech models, the CLI, the
    benchmarks and the tests all take these from :func:`model_paths`, so that
    HOTLINE_EMBEDDING_MODEL and HOTLINE_CACHE_DIR move all of them together.
    """

    embedding_model: str | None  # sentence-transformers id or path; None: offline e5-small
    cache_dir: Path

    @property
    def models_dir(self) -> Path:
        """Rebuilt and downloaded models (e5, Whisper, Vosk)."""
        return self.cache_dir / "models"

    @property
    def embeddings_dir(self) -> Path:
        """The knowledge index's passage embeddings."""
        return self.cache_dir / "embeddings"

    @property
    def routers_dir(self) -> Path:
        """Routers trained from the responsibility table, one folder per table and model."""
        return self.cache_dir / "router"


def model_paths(settings: Settings | None = None) -> ModelPaths:
    """The embedding model and cache folder of these settings (default: the process's)."""
    s = settings or get_settings()
    return ModelPaths(s.embedding_model, s.cache_dir)

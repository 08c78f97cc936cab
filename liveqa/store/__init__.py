"""Redis, the system of record: keys, Lua scripts, and the store that maps script results to domain values."""

from liveqa.store.redis import RedisStore

__all__ = ["RedisStore"]

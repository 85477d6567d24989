from services.analytics.store.tables import metadata
from shared.store.migrate import run_env

run_env(metadata)

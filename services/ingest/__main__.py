from services.ingest.main import create
from services.ingest.settings import IngestSettings
from shared.run import serve

settings = IngestSettings()
serve(create(settings), settings)

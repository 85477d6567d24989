from services.tiers.main import create
from services.tiers.settings import TiersSettings
from shared.run import serve

settings = TiersSettings()
serve(create(settings), settings)

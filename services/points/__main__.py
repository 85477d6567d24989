from services.points.main import create
from services.points.settings import PointsSettings
from shared.run import serve

settings = PointsSettings()
serve(create(settings), settings)

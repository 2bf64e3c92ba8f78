from interfaces.cli import app

app()

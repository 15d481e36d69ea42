"""Apache Airflow provider for Kling image generation."""

__version__ = "0.1.0"

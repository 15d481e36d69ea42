import pendulum
from airflow.sdk import dag

from airflow_provider_kling.operators.kling import KlingImageGenerationOperator


@dag(schedule="@daily", start_date=pendulum.datetime(2025, 1, 1, tz="UTC"), catchup=False)
def kling_hero_image():
    KlingImageGenerationOperator(
        task_id="hero_image",
        prompt="A lighthouse at dawn, watercolour, {{ ds }}",  # templated: rendered per run
        model_name="kling-v2-1",
        n=2,
        aspect_ratio="16:9",
        output_path="s3://my-bucket/kling",  # Kling purges images after 30 days: keep your copy
        output_conn_id="aws_default",
        deferrable=True,  # wait in the triggerer, not on a worker
    )


kling_hero_image()

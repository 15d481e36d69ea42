"""What an operator made, as Airflow asset events and OpenLineage facets: shared by every Kling operator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_kling.operators.lazy import running

if TYPE_CHECKING:
    from airflow.sdk import Context


class KlingOutputsMixin:
    """
    Declares the output folder as an ``Asset`` outlet when it is known at parse time, records the
    asset events of a finished run, and answers OpenLineage; mixed into a ``BaseOperator``.
    """

    outlets: Any
    dag_id: str
    task_id: str
    log: Any

    def _init_outputs(self, output_path: Any) -> None:
        """End of ``__init__``: a static ``output_path`` and no outlets declare ``Asset(<its URI>)``."""
        #: What the last execution made and where it went: asset events and OpenLineage read it.
        self._kling_results: list[dict[str, Any]] = []
        self._output_uri: str | None = None
        if not self.outlets and (output_uri := running().assets.static_output_uri(output_path)):
            from airflow.sdk import Asset

            self.outlets = [Asset(output_uri)]

    def _record_outputs(
        self, results: list[dict[str, Any]], output_uri: str | None, context: Context
    ) -> None:
        """Describe what was made on this task's asset events (and, later, its OpenLineage facets)."""
        self._kling_results, self._output_uri = results, output_uri
        if not self.outlets or not results:
            return
        extra = running().assets.asset_extra(
            results,
            dag_id=self.dag_id,
            run_id=running().results.run_id_of(context),
            task_id=self.task_id,
            output_uri=output_uri,
        )
        for recorded in running().assets.record_asset_events(context, self.outlets, output_uri, extra):
            self.log.info(
                "Asset event for %s: %d image(s), %d video(s)",
                recorded,
                extra["image_count"],
                extra["video_count"],
            )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the output folder as the output dataset, the Kling task ids, models and units
        as a ``kling`` run facet. Called only by the OpenLineage provider, which it imports."""
        return running().assets.openlineage_facets(self._kling_results, self._output_uri)

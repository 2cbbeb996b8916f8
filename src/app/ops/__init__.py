"""Operations: what the queues, workers, outbox and housekeeping are doing (``/api/v1/ops/queues``, ``/metrics``)."""

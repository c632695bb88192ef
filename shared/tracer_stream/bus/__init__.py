"""Kafka plumbing: topic administration, an acknowledged producer, a micro-batch consumer."""

from tracer_stream.bus.admin import ensure_topics
from tracer_stream.bus.consumer import BatchConsumer
from tracer_stream.bus.producer import DeliveryPolicy, Producer

__all__ = ["BatchConsumer", "DeliveryPolicy", "Producer", "ensure_topics"]

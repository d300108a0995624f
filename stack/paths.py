"""Where the local stack keeps its files: one directory per service under CB_STACK_DIR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings

KAFKA = "kafka"
REDIS = "redis"
PROMETHEUS = "prometheus"


@dataclass(frozen=True)
class StackPaths:
    root: Path
    lock: Path
    kafka_dir: Path
    kafka_data: Path
    kafka_props: Path
    kafka_log4j: Path
    kafka_log: Path
    kafka_pid: Path
    cluster_id: Path
    redis_dir: Path
    redis_conf: Path
    redis_acl: Path
    redis_log: Path
    redis_pid: Path
    prometheus_dir: Path
    prometheus_config: Path
    prometheus_data: Path
    prometheus_log: Path
    prometheus_pid: Path

    def pid_file(self, service: str) -> Path:
        return {KAFKA: self.kafka_pid, REDIS: self.redis_pid, PROMETHEUS: self.prometheus_pid}[
            service
        ]

    def log_file(self, service: str) -> Path:
        return {KAFKA: self.kafka_log, REDIS: self.redis_log, PROMETHEUS: self.prometheus_log}[
            service
        ]


def paths(s: Settings) -> StackPaths:
    root = s.stack_dir
    kafka = root / "kafka"
    redis_dir = root / "redis"
    return StackPaths(
        root=root,
        lock=root / ".stack.lock",
        kafka_dir=kafka,
        kafka_data=kafka / "data",
        kafka_props=kafka / "server.properties",
        kafka_log4j=kafka / "log4j2.xml",
        kafka_log=kafka / "kafka.log",
        kafka_pid=kafka / "kafka.pid",
        cluster_id=kafka / "cluster.id",
        redis_dir=redis_dir,
        redis_conf=redis_dir / "redis.conf",
        redis_acl=redis_dir / "users.acl",
        redis_log=redis_dir / "redis.log",
        redis_pid=redis_dir / "redis.pid",
        prometheus_dir=root / "prometheus",
        prometheus_config=root / "prometheus" / "prometheus.yml",
        prometheus_data=root / "prometheus" / "data",
        prometheus_log=root / "prometheus" / "prometheus.log",
        prometheus_pid=root / "prometheus" / "prometheus.pid",
    )

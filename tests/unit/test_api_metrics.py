"""ampyre.metrics: isolated registries, bound children, capped label sets, exposition."""

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from ampyre.metrics import LATENCY_BUCKETS, Metrics


def samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(m.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_registries_are_isolated() -> None:
    a, b = Metrics(), Metrics()
    a.message_in("ocpp1.6", "Heartbeat", 2)
    assert a.registry is not b.registry
    assert ("ampyre_ocpp_messages_total", ()) not in samples(b)
    key = (
        "ampyre_ocpp_messages_total",
        (
            ("action", "Heartbeat"),
            ("direction", "in"),
            ("message_type", "CALL"),
            ("ocpp_version", "ocpp1.6"),
        ),
    )
    assert samples(a)[key] == 1
    assert key not in samples(b)


def test_explicit_registry_is_used() -> None:
    registry = CollectorRegistry()
    m = Metrics(registry)
    assert m.registry is registry


def test_connected_gauge_by_version() -> None:
    m = Metrics()
    m.station_connected("ocpp2.0.1")
    m.station_connected("ocpp2.0.1")
    m.station_connected("ocpp1.6")
    m.station_disconnected("ocpp2.0.1")
    s = samples(m)
    assert s[("ampyre_connected_stations", (("ocpp_version", "ocpp2.0.1"),))] == 1
    assert s[("ampyre_connected_stations", (("ocpp_version", "ocpp1.6"),))] == 1
    m.set_connected("ocpp1.6", 7)
    assert samples(m)[("ampyre_connected_stations", (("ocpp_version", "ocpp1.6"),))] == 7


def test_messages_in_and_out_with_type_names() -> None:
    m = Metrics()
    for _ in range(3):
        m.message_in("ocpp1.6", "BootNotification", 2)
    m.message_out("ocpp1.6", "BootNotification", 3)
    m.message_out("ocpp2.1", None, 4)
    m.message_in("ocpp2.1", "NotifyPeriodicEventStream", "SEND")
    s = samples(m)

    def key(direction: str, version: str, action: str, mtype: str) -> tuple[str, tuple]:  # type: ignore[type-arg]
        labels = {
            "direction": direction,
            "ocpp_version": version,
            "action": action,
            "message_type": mtype,
        }
        return ("ampyre_ocpp_messages_total", tuple(sorted(labels.items())))

    assert s[key("in", "ocpp1.6", "BootNotification", "CALL")] == 3
    assert s[key("out", "ocpp1.6", "BootNotification", "CALLRESULT")] == 1
    assert s[key("out", "ocpp2.1", "none", "CALLERROR")] == 1
    assert s[key("in", "ocpp2.1", "NotifyPeriodicEventStream", "SEND")] == 1


def test_children_are_bound_once() -> None:
    m = Metrics()
    m.message_in("ocpp1.6", "Heartbeat", 2)
    child = m._messages[("in", "ocpp1.6", "Heartbeat", 2)]
    m.message_in("ocpp1.6", "Heartbeat", 2)
    assert m._messages[("in", "ocpp1.6", "Heartbeat", 2)] is child
    assert m.latency("Heartbeat") is m.latency("Heartbeat")


def test_station_supplied_labels_are_capped() -> None:
    m = Metrics(max_series=3)
    for i in range(10):
        m.message_in("ocpp1.6", f"Bogus{i}", 2)
        m.ocpp_error(f"Code{i}")
        m.observe_handler(f"Act{i}", 0.001)
    assert len(m._messages) == 3
    assert len(m._errors) == 3
    assert len(m._latency) == 3
    s = samples(m)
    other = (
        "ampyre_ocpp_messages_total",
        (
            ("action", "other"),
            ("direction", "in"),
            ("message_type", "other"),
            ("ocpp_version", "other"),
        ),
    )
    assert s[other] == 7
    assert s[("ampyre_ocpp_errors_total", (("error_code", "other"),))] == 7
    assert s[("ampyre_ocpp_handler_seconds_count", (("action", "other"),))] == 7


def test_errors_and_latency_histogram() -> None:
    m = Metrics()
    m.ocpp_error("FormatViolation")
    m.ocpp_error("FormatViolation")
    m.observe_handler("Authorize", 0.0002)
    m.observe_handler("Authorize", 0.7)
    s = samples(m)
    assert s[("ampyre_ocpp_errors_total", (("error_code", "FormatViolation"),))] == 2
    assert s[("ampyre_ocpp_handler_seconds_count", (("action", "Authorize"),))] == 2
    bucket = (("action", "Authorize"), ("le", "0.00025"))
    assert s[("ampyre_ocpp_handler_seconds_bucket", bucket)] == 1
    assert LATENCY_BUCKETS[0] == 0.0001 and LATENCY_BUCKETS[-1] == 1.0


def test_audit_dropped_counter_and_hooks() -> None:
    m = Metrics()
    m.audit_dropped()
    m.audit_dropped(4)
    assert samples(m)[("ampyre_audit_log_dropped_total", ())] == 5

    source = {"dropped": 5}
    m.add_collect_hook(lambda: m.set_audit_dropped_total(source["dropped"]))
    source["dropped"] = 12
    assert samples(m)[("ampyre_audit_log_dropped_total", ())] == 12
    assert samples(m)[("ampyre_audit_log_dropped_total", ())] == 12  # no double counting


def test_group_commits_time_and_ops_by_outcome() -> None:
    m = Metrics()
    m.group_commit(40, 0, 0.004)
    m.group_commit(10, 2, 0.030)
    got = samples(m)
    assert got[("ampyre_db_group_commit_seconds_count", ())] == 2
    assert got[("ampyre_db_group_commit_seconds_sum", ())] == 0.034
    assert got[("ampyre_db_group_commit_seconds_bucket", (("le", "0.005"),))] == 1
    assert got[("ampyre_db_group_commit_seconds_bucket", (("le", "0.05"),))] == 2
    assert got[("ampyre_db_group_commit_ops_total", (("outcome", "committed"),))] == 48
    assert got[("ampyre_db_group_commit_ops_total", (("outcome", "failed"),))] == 2


def test_render_is_prometheus_text() -> None:
    m = Metrics()
    text = m.render().decode()
    assert "# TYPE ampyre_connected_stations gauge" in text
    assert "# TYPE ampyre_ocpp_messages_total counter" in text
    assert "# TYPE ampyre_ocpp_handler_seconds histogram" in text
    assert m.content_type.startswith("text/plain")


def test_frame_counts_reach_the_counters_once_per_render() -> None:
    m = Metrics()
    key = (
        "ampyre_ocpp_messages_total",
        (
            ("action", "Heartbeat"),
            ("direction", "in"),
            ("message_type", "CALL"),
            ("ocpp_version", "ocpp1.6"),
        ),
    )
    for _ in range(3):
        m.message_in("ocpp1.6", "Heartbeat", 2)
    assert samples(m)[key] == 3
    assert samples(m)[key] == 3  # a second render adds nothing
    m.message_in("ocpp1.6", "Heartbeat", 2)
    assert samples(m)[key] == 4


def test_frames_total_counts_frames_before_and_after_a_render() -> None:
    """The dashboard's message rate reads frames_total every 2 s; frames are handed to the
    Prometheus counters only when /metrics is rendered, so both must be counted."""
    m = Metrics()
    m.message_in("ocpp1.6", "Heartbeat")
    m.message_out("ocpp1.6", "Heartbeat", 3)
    assert m.frames_total() == 2
    m.render()
    m.message_in("ocpp2.0.1", "StatusNotification")
    assert m.frames_total() == 3
    m.render()
    assert m.frames_total() == 3


def test_folded_latency_matches_prometheus_observe() -> None:
    """Latencies are counted in plain buckets and folded into the Prometheus histogram at
    render (through its private _buckets/_sum): the exposition equals observe()'s."""
    from prometheus_client import Histogram

    m = Metrics()
    registry = CollectorRegistry()
    reference = Histogram(
        "ampyre_ocpp_handler_seconds", "x", ["action"], buckets=LATENCY_BUCKETS, registry=registry
    )
    values = [0.0, 0.0001, 0.00010001, 0.0003, 0.001, 0.04, 0.5, 1.0, 1.5, 99.0]
    for round_ in range(3):
        for v in values[round_:]:
            m.observe_handler("Heartbeat", v)
            m.latency("StatusNotification").observe(v / 2)
            reference.labels("Heartbeat").observe(v)
            reference.labels("StatusNotification").observe(v / 2)
        got = {k: v for k, v in samples(m).items() if k[0].startswith("ampyre_ocpp_handler")}
        want = {}
        for family in registry.collect():
            for s in family.samples:
                if not s.name.endswith("_created"):
                    want[(s.name, tuple(sorted(s.labels.items())))] = s.value
        for key, value in want.items():
            assert abs(got[key] - value) < 1e-9, key
        assert {k for k in got if not k[0].endswith("_created")} == set(want)


def test_observer_frames_reach_the_same_series() -> None:
    """GatewayObserver.message counts in Metrics.frame_counts: same series and values as
    message_in / message_out, capped the same way, and seen by frames_total."""
    from ampyre.domain.models import Direction, OcppVersion
    from ampyre.gateway.observer import GatewayObserver

    m, ref = Metrics(max_series=3), Metrics(max_series=3)
    observer = GatewayObserver(m, store=None)  # type: ignore[arg-type]
    frames = [
        (OcppVersion.V16, Direction.IN, 2, "Heartbeat"),
        (OcppVersion.V16, Direction.OUT, 3, "Heartbeat"),
        (OcppVersion.V201, Direction.OUT, 4, None),
        (OcppVersion.V16, Direction.IN, 2, "Bogus1"),
        (OcppVersion.V16, Direction.IN, 2, "Bogus2"),
    ]
    for round_ in range(3):
        for version, direction, mtype, action in frames * (round_ + 1):
            observer.message(version, direction, mtype, action)
            count = ref.message_in if direction is Direction.IN else ref.message_out
            count(version.value, action, mtype)
        assert m.frames_total() == ref.frames_total()

        def series(x: Metrics) -> dict:  # type: ignore[type-arg]
            return {k: v for k, v in samples(x).items() if k[0] == "ampyre_ocpp_messages_total"}

        assert series(m) == series(ref)
        assert m.frames_total() == ref.frames_total()

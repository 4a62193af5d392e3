"""`congestion` / `python -m server`: serve, the offline pipeline, data, bulk scoring, DB and versions."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from server.config import ConfigError, load_config

log = logging.getLogger("server")


def build_parser() -> argparse.ArgumentParser:
    """Every command accepts --config PATH."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=None, help="config YAML (default: config/config.yaml)")
    parser = argparse.ArgumentParser(prog="congestion", description=__doc__, parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the web server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    bootstrap = sub.add_parser("bootstrap", parents=[common],
                               help="upgrade the DB and train a default model if none is active")
    bootstrap.set_defaults(only_if_empty=True)

    pipe = sub.add_parser("pipeline", parents=[common], help="train synchronously and register a version")
    pipe.add_argument("--generate-data", action="store_true", help="train on freshly generated data")
    pipe.add_argument("--data", help="a flow CSV/Parquet file to train on")
    pipe.add_argument("--rows", type=int)
    pipe.add_argument("--seed", type=int)
    pipe.add_argument("--model", choices=["random_forest", "xgboost"])
    pipe.add_argument("--iterations", type=int, help="randomized search iterations")
    pipe.add_argument("--from-feedback", action="store_true",
                      help="train on the labelled prediction log (the labels fed back to /api/feedback)")
    pipe.add_argument("--since", help="with --from-feedback: flows from this time (Unix seconds or ISO 8601)")
    pipe.add_argument("--until", help="with --from-feedback: flows before this time")
    pipe.add_argument("--shadow", action="store_true",
                      help="send the new version to shadow instead of through the promotion gate")

    gen = sub.add_parser("generate-data", parents=[common], help="write synthetic flows to CSV/Parquet")
    gen.add_argument("--rows", type=int)
    gen.add_argument("--seed", type=int)
    gen.add_argument("--out", required=True)

    dbp = sub.add_parser("db", parents=[common], help="metadata database schema")
    dbp.add_argument("action", choices=["upgrade", "current"])

    score = sub.add_parser("score", parents=[common], help="score a flow CSV/Parquet file in bulk")
    score.add_argument("--data", required=True, help="flow CSV or Parquet to score")
    score.add_argument("--out", required=True, help="output .parquet or .csv (written atomically)")
    score.add_argument("--version", help="model version timestamp (default: the active one)")
    score.add_argument("--threshold", type=float, help="decision threshold (default: api.default_threshold)")
    score.add_argument("--explain", type=int, default=0, metavar="N", help="add the top N SHAP contributions")
    score.add_argument("--explain-processes", type=int, default=None, metavar="P",
                       help="processes computing SHAP (default: every core when the input has >= 20,000 rows)")
    score.add_argument("--on-error", choices=["skip", "fail"], default="skip", help="bad rows: skip them or fail")
    score.add_argument("--chunk-rows", type=int, default=100_000, metavar="N", help="rows per chunk")
    score.add_argument("--no-progress", action="store_true", help="no progress bar")
    score.add_argument("--engine", choices=["local", "dask"], default="local",
                       help="dask: score a partitioned Parquet dataset (folder, glob or s3://) on "
                            "training.dask.scheduler and write a Parquet folder")

    feedback = sub.add_parser("feedback", parents=[common], help="feed delayed labels back (CSV/Parquet)")
    feedback.add_argument("--data", required=True,
                          help="columns prediction_id, congestion (or source_ip, dest_ip, timestamp_seconds, congestion)")
    feedback.add_argument("--no-progress", action="store_true", help="no progress bar")

    versions = sub.add_parser("versions", parents=[common],
                              help="list, roll back, prune or sign (once, after upgrading) versions")
    versions.add_argument("action", choices=["list", "rollback", "prune", "sign"])
    versions.add_argument("timestamp", nargs="?")
    versions.add_argument("--reason")
    versions.add_argument("--resign", action="store_true",
                          help="sign: also replace signatures made with another key (after replacing the key)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, load config (a bad key stops here with its name), dispatch."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    from server.logs import setup_logging

    setup_logging(config.logging, file_name="server.log" if args.command == "serve" else "cli.log")
    try:
        return _dispatch(args, config)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line for the user; the log file has the traceback
        log.debug("command failed", exc_info=True)
        print(f"error: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace, config) -> int:
    from server import commands
    from server.services.training import TrainRequest

    if args.command == "serve":
        from server.serve import serve

        return serve(config, host=args.host, port=args.port)
    if args.command == "bootstrap":
        return asyncio.run(commands.pipeline(config, TrainRequest(), only_if_empty=True))
    if args.command == "pipeline":
        return _pipeline(args, config)
    if args.command == "generate-data":
        return _generate(args, config)
    if args.command == "score":
        if args.engine == "dask":
            from server.scale import scoring as dask_scoring

            return dask_scoring.run(config, args.data, args.out, args.version, args.threshold)
        from server.scoring import cli as scoring

        return scoring.run(config, scoring.ScoreOptions.from_args(args))
    if args.command == "feedback":
        from server.monitoring import cli as monitoring_cli

        return monitoring_cli.run(config, args.data, progress=not args.no_progress)
    if args.command == "db":
        action = commands.db_upgrade if args.action == "upgrade" else commands.db_current
        return asyncio.run(action(config))
    if args.action == "list":
        return asyncio.run(commands.versions_list(config))
    if args.action == "prune":
        return asyncio.run(commands.versions_prune(config))
    if args.action == "sign":
        return asyncio.run(commands.versions_sign(config, resign=args.resign))
    if not args.timestamp:
        print("error: versions rollback needs a TIMESTAMP (YYYYMMDD_HHMMSS)", file=sys.stderr)
        return 2
    return asyncio.run(commands.versions_rollback(config, args.timestamp, args.reason))


def _pipeline(args: argparse.Namespace, config) -> int:
    import dataclasses

    from server import commands
    from server.config import replace
    from server.errors import ValidationFailed
    from server.services.training import TrainRequest

    data = config.data
    if args.data:
        data = replace(data, path=args.data)
    if args.seed is not None:
        data = replace(data, seed=args.seed)
    config = replace(config, data=data)
    def _time(text):  # digits are Unix seconds, anything else an ISO 8601 time
        return int(text) if text is not None and text.isdigit() else text

    body = {"model_type": args.model, "search_iterations": args.iterations, "rows": args.rows,
            "source": "feedback" if args.from_feedback else None, "since": _time(args.since),
            "until": _time(args.until), "shadow": True if args.shadow else None}
    try:
        request = TrainRequest.parse({k: v for k, v in body.items() if v is not None}, generate_data=False)
    except ValidationFailed as exc:
        print(f"error: {exc.message}: {exc.fields}", file=sys.stderr)
        return 2
    if args.generate_data and args.seed is None:
        request = dataclasses.replace(request, generate_data=True)
    return asyncio.run(commands.pipeline(config, request))


def _generate(args: argparse.Namespace, config) -> int:
    from server.config import to_plain
    from server.ml.data import generate_flows, write_flows

    rows = args.rows or config.data.rows
    seed = args.seed if args.seed is not None else config.data.seed
    frame = generate_flows(rows, seed, positive_rate=config.data.positive_rate,
                           scenario=to_plain(config.data.scenario))
    write_flows(frame, args.out)
    print(f"wrote {len(frame)} flows to {args.out} (positive rate {frame['congestion'].mean():.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

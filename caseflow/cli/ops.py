"""``caseflow sweep``, ``caseflow housekeeping``, ``caseflow scheduler`` and ``caseflow serve``:
the clocks at work, and the processes that run them."""

import logging
import signal
from typing import Any

import click
from rich.table import Table

from caseflow.cli.common import console, json_option, open_app, print_json
from cases.views import local
from workflow.ladder import LEVEL_LABELS


@click.command("sweep")
@json_option
def sweep(as_json: bool) -> None:
    """执行此刻到期的一切：督办升级（临期→逾期→督办→挂牌）、回头看到期等。"""
    with open_app() as app:
        report = app.sweeper.sweep()
        if as_json:
            print_json(report.to_dict())
            return
        if not report.steps:
            click.echo(f"{local(report.now)}：没有到期事项")
            return
        table = Table(title=f"本次执行 {len(report.steps)} 步（{report.cases} 件案件）")
        for column in ("案件", "动作", "督办级别", "状态", "应执行时间"):
            table.add_column(column)
        for s in report.steps:
            level = LEVEL_LABELS.get(s.level or "", "")
            table.add_row(s.case, s.action, level, s.to_state, (local(s.scheduled_for) or "")[:16])
        console().print(table)


@click.command("housekeeping")
@click.option("--dry-run", is_flag=True, help="只统计将清理的数量，不删除")
@json_option
def housekeeping(dry_run: bool, as_json: bool) -> None:
    """清理过期数据：幂等记录、失效令牌、超过保留期的登录记录、孤立的证明材料文件。

    案件、办理记录、通知和被案件引用的证明材料从不清理。调度器每天凌晨自动执行一次。
    """
    with open_app() as app:
        report = app.housekeeper.run(dry_run=dry_run)
        if as_json:
            print_json(report.to_dict())
            return
        keep = app.housekeeper.retention
        verb = "将清理" if dry_run else "已清理"
        table = Table(title=f"{local(report.now)[:16]} {verb}")
        for column in ("项目", "数量", "保留期"):
            table.add_column(column)
        table.add_row("API 幂等记录", str(report.idempotency_records), f"{keep.idempotency_hours} 小时")
        table.add_row("失效的会话和 API 令牌", str(report.tokens), f"失效后 {keep.token_days} 天")
        table.add_row("登录记录", str(report.signin_records), f"{keep.signin_days} 天")
        table.add_row(
            "孤立的证明材料文件", f"{report.evidence_files}（{report.evidence_bytes:,} 字节）",
            f"无案件引用且放置超过 {int(keep.evidence_grace.total_seconds() // 60)} 分钟",
        )  # fmt: skip
        table.add_row("未写完的临时文件", str(report.temporary_files), "同上")
        console().print(table)


def _configure_logging() -> None:
    """INFO for caseflow; APScheduler's "running job … executed successfully", twice a minute
    per tick, only when something goes wrong (the tick logs what it did itself)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)


@click.command("scheduler")
@click.option("--tick-seconds", default=60, show_default=True, type=click.IntRange(5, 3600), help="两次巡检的间隔")
def scheduler(tick_seconds: int) -> None:
    """单独运行调度器（生产环境，PostgreSQL）；多台机器同时运行时只有一台在巡检。"""
    from scheduling.runner import Ticker, make_scheduler

    _configure_logging()
    with open_app() as app:
        ticker = Ticker(app, tick_seconds=tick_seconds)
        runner = make_scheduler(ticker, blocking=True, tick_seconds=tick_seconds)

        def stop(*_: Any) -> None:
            runner.shutdown(wait=False)

        signal.signal(signal.SIGTERM, stop)
        click.echo(f"调度器已启动（{ticker.lease.holder}，每 {tick_seconds} 秒巡检一次）；Ctrl-C 退出", err=True)
        try:
            runner.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            ticker.lease.release()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-scheduler", is_flag=True, help="不在本进程内运行调度器（PostgreSQL 上另行运行 caseflow scheduler）")
def serve(host: str, port: int, no_scheduler: bool) -> None:
    """运行网页和 HTTP API；在 SQLite 上同时在本进程内运行调度器。"""
    import uvicorn

    from scheduling.runner import Ticker, make_scheduler
    from web.server import create_web_app

    _configure_logging()
    with open_app() as app:
        web = create_web_app(app)
        runner = None
        if not no_scheduler and app.db.is_sqlite:
            runner = make_scheduler(Ticker(app), blocking=False)
            runner.start()
        click.echo(f"caseflow 已启动：http://{host}:{port}/  （API 文档 http://{host}:{port}/api/docs）", err=True)
        try:
            uvicorn.run(web, host=host, port=port, log_level="info")
        finally:
            if runner is not None:
                runner.shutdown(wait=False)

"""Rank awareness for multi-process (torchrun / DDP) runs.

These helpers read the environment that torchrun sets (``RANK``,
``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``), so that logging, progress bars and file
writes happen on rank 0 only; the process group itself is joined by
:mod:`zspace.pipeline.processes`. Under plain ``srun`` (SLURM's tasks, no
torchrun), :func:`adopt_slurm_environment` sets the same variables from
SLURM's, so that N tasks form one job instead of N racing trainings.
"""

from __future__ import annotations

import os


def rank() -> int:
    """Global rank of this process (0 when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """Number of processes in the job (1 when not launched by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_world_size() -> int:
    """Number of processes of the job on this machine (1 when not launched by torchrun)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True on the process that logs, draws progress bars and writes files."""
    return rank() == 0


#: variables torchrun sets for its workers; with any of them present, torchrun (not SLURM) formed the job
TORCHRUN_VARIABLES = ("WORLD_SIZE", "RANK", "TORCHELASTIC_RUN_ID")
#: MASTER_PORT under srun when the user sets none: this base plus (job id + step id) mod PORT_SPAN
SLURM_PORT_BASE, SLURM_PORT_SPAN = 15000, 20000


def slurm_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The torchrun-style variables for a process that ``srun`` started as one task of several; {} otherwise.

    srun started this process as one of several tasks when ``SLURM_STEP_ID``,
    ``SLURM_PROCID`` and ``SLURM_LOCALID`` are set, the step has more than one
    task (``SLURM_STEP_NUM_TASKS``, else ``SLURM_NTASKS``) and no torchrun
    variable is (``srun torchrun ...``: torchrun forms the job). Then:

    * ``RANK`` = ``SLURM_PROCID``, ``WORLD_SIZE`` = the step's tasks,
      ``LOCAL_RANK`` = ``SLURM_LOCALID``, ``LOCAL_WORLD_SIZE`` = the tasks on
      this node (``SLURM_STEP_TASKS_PER_NODE`` at ``SLURM_NODEID``, read with
      python-hostlist);
    * ``MASTER_ADDR``: the user's, else the first host of the step's node list
      (``SLURM_STEP_NODELIST``, else ``SLURM_JOB_NODELIST``; python-hostlist
      expands ``node[01-04]``);
    * ``MASTER_PORT``: the user's, else ``15000 + (job id + step id) mod 20000``
      (two steps of one job running at the same time need their own
      MASTER_PORT).
    """
    env = dict(os.environ if env is None else env)
    if any(v in env for v in TORCHRUN_VARIABLES):
        return {}
    if not all(v in env for v in ("SLURM_STEP_ID", "SLURM_PROCID", "SLURM_LOCALID")):
        return {}
    tasks = int(env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS") or 1)
    if tasks <= 1:
        return {}
    import hostlist

    per_node = hostlist.parse_slurm_tasks_per_node(
        env.get("SLURM_STEP_TASKS_PER_NODE") or env.get("SLURM_TASKS_PER_NODE") or str(tasks))
    node = int(env.get("SLURM_NODEID", "0"))
    nodes = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST") or ""
    job, step = int(env.get("SLURM_JOB_ID", "0")), int(env["SLURM_STEP_ID"])
    return {
        "RANK": env["SLURM_PROCID"], "WORLD_SIZE": str(tasks), "LOCAL_RANK": env["SLURM_LOCALID"],
        "LOCAL_WORLD_SIZE": str(per_node[node] if node < len(per_node) else per_node[-1]),
        "MASTER_ADDR": env.get("MASTER_ADDR") or (hostlist.expand_hostlist(nodes)[0] if nodes else "127.0.0.1"),
        "MASTER_PORT": env.get("MASTER_PORT") or str(SLURM_PORT_BASE + (job + step) % SLURM_PORT_SPAN),
    }


def adopt_slurm_environment() -> bool:
    """Under ``srun`` with several tasks, set the torchrun-style variables of :func:`slurm_environment` in
    ``os.environ`` so that the tasks form one job; whether it did. Idempotent."""
    variables = slurm_environment()
    os.environ.update(variables)
    return bool(variables)

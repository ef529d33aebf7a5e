"""Under srun (SLURM's tasks, no torchrun) the torchrun variables come from SLURM's (core/dist.py)."""

from __future__ import annotations

from zspace.core.dist import SLURM_PORT_BASE, slurm_environment

#: task 5 of 8 in step 2 of job 123456: 4 tasks on each of gpu03 and gpu04
TASK = {"SLURM_JOB_ID": "123456", "SLURM_STEP_ID": "2", "SLURM_NTASKS": "8", "SLURM_STEP_NUM_TASKS": "8",
        "SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_NODEID": "1", "SLURM_STEP_TASKS_PER_NODE": "4(x2)",
        "SLURM_STEP_NODELIST": "gpu[03-04]"}


def test_a_task_of_a_two_node_step_gets_its_rank_and_the_first_node_as_master():
    assert slurm_environment(TASK) == {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4",
                                       "MASTER_ADDR": "gpu03", "MASTER_PORT": str(SLURM_PORT_BASE + 123458 % 20000)}


def test_uneven_nodes_count_their_own_tasks_and_the_users_master_is_kept():
    env = {**TASK, "SLURM_STEP_NUM_TASKS": "7", "SLURM_STEP_TASKS_PER_NODE": "4,3", "MASTER_ADDR": "10.0.0.9",
           "MASTER_PORT": "29500"}
    got = slurm_environment(env)
    assert (got["WORLD_SIZE"], got["LOCAL_WORLD_SIZE"], got["MASTER_ADDR"], got["MASTER_PORT"]) == \
        ("7", "3", "10.0.0.9", "29500")


def test_torchrun_a_single_task_or_a_batch_script_is_left_alone():
    assert slurm_environment({**TASK, "WORLD_SIZE": "2", "RANK": "0"}) == {}  # srun torchrun ...: torchrun's job
    assert slurm_environment({**TASK, "SLURM_STEP_NUM_TASKS": "1", "SLURM_NTASKS": "1"}) == {}
    assert slurm_environment({k: v for k, v in TASK.items() if k != "SLURM_STEP_ID"}) == {}  # not started by srun

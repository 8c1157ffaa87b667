"""torchrun's process group for training: rank, world size, and the few collectives the loop needs.

One process without torchrun is a world of one, and every collective is then a no-op.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from ..errors import PlateOCRError


class Distributed:
    """torchrun's environment: rank, world size; gloo on CPU, nccl on CUDA."""

    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = device
        # Under torchrun (it sets all four) even one process joins a group, so DDP runs as launched;
        # a stray MASTER_ADDR alone in a user's environment does not.
        rendezvous = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
        self.launched = self.world > 1 or all(k in os.environ for k in rendezvous)
        if self.launched:
            if device.type == "cuda":
                if self.local_rank >= torch.cuda.device_count():
                    raise PlateOCRError(
                        f"local rank {self.local_rank} has no GPU: this node has "
                        f"{torch.cuda.device_count()}; start at most that many processes per node"
                    )
                self.device = torch.device("cuda", self.local_rank)
                torch.cuda.set_device(self.device)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, *values: float) -> list[float]:
        if self.world == 1:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def gather(self, items: list) -> list:
        if self.world == 1:
            return items
        parts: list[list] = [[] for _ in range(self.world)]
        dist.all_gather_object(parts, items)
        return [x for part in parts for x in part]

    def broadcast(self, value):
        if self.world == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def close(self):
        if self.launched and dist.is_initialized():
            dist.destroy_process_group()

"""LastDimBatchNorm with sync=True across two gloo processes equals one BatchNorm over the whole batch."""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ffn_blocks import LastDimBatchNorm


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, x: torch.Tensor, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0)
    norm = LastDimBatchNorm(4, sync=True)
    with torch.no_grad():
        norm.bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5, 1.5]))
    part = x[rank * 3 : (rank + 1) * 3].clone().requires_grad_(True)
    out = norm(part)
    (out * torch.arange(4.0)).sum().backward()
    results[rank] = (out.detach(), part.grad, norm.bn.running_mean.clone(), norm.bn.running_var.clone())
    dist.destroy_process_group()


def test_synchronized_statistics_and_gradients_equal_a_global_batchnorm():
    x = torch.randn(6, 5, 4, generator=torch.Generator().manual_seed(1)) * 3 + 1
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_worker, args=(_free_port(), x, results), nprocs=2, join=True)
        results = dict(results)
    reference = LastDimBatchNorm(4)
    with torch.no_grad():
        reference.bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5, 1.5]))
    whole = x.clone().requires_grad_(True)
    out = reference(whole)
    (out * torch.arange(4.0)).sum().backward()
    for rank in (0, 1):
        got, grad, running_mean, running_var = results[rank]
        torch.testing.assert_close(got, out.detach()[rank * 3 : (rank + 1) * 3], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(grad, whole.grad[rank * 3 : (rank + 1) * 3], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(running_mean, reference.bn.running_mean, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(running_var, reference.bn.running_var, rtol=1e-4, atol=1e-5)


def test_sync_is_a_no_op_in_one_process():
    x = torch.randn(3, 7, 4)
    synced, plain = LastDimBatchNorm(4, sync=True), LastDimBatchNorm(4)
    torch.testing.assert_close(synced(x), plain(x))

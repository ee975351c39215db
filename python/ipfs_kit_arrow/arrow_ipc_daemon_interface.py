"""IPFS-Kit's ipfs_kit_py.arrow_ipc_daemon_interface names: the interface class, its global
instance, and the module functions, which (as IPFS-Kit's) return a pyarrow Table or None.
The dict-returning forms are ipfs_kit_arrow.vfs_manager's (and ipfs_kit_arrow's own)."""

from .compat import ArrowIPCDaemonInterface, get_global_arrow_ipc_interface

__all__ = ["ArrowIPCDaemonInterface", "get_global_arrow_ipc_interface",
           "get_pin_index_zero_copy", "get_metrics_zero_copy", "get_pin_index_zero_copy_sync",
           "get_metrics_zero_copy_sync"]


async def get_pin_index_zero_copy(limit=None, filters=None):
    """The pin index as a pyarrow Table, or None when it cannot be had."""
    return await get_global_arrow_ipc_interface().get_pin_index_arrow(limit, filters)


async def get_metrics_zero_copy(metric_types=None):
    """The daemon's metrics as a pyarrow Table, or None."""
    return await get_global_arrow_ipc_interface().get_metrics_arrow(metric_types)


def get_pin_index_zero_copy_sync(limit=None, filters=None):
    """get_pin_index_zero_copy without an event loop (works inside a running one too)."""
    i = get_global_arrow_ipc_interface()
    return i._table(i.pins, limit=limit, filters=filters)


def get_metrics_zero_copy_sync(metric_types=None):
    """get_metrics_zero_copy without an event loop."""
    i = get_global_arrow_ipc_interface()
    return i._table(i.metrics, filters={"metric_type": list(metric_types)}
                    if metric_types else None)



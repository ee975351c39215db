"""IPFS-Kit's ipfs_kit_py.vfs_manager names, its zero-copy part: get_global_vfs_manager() and
the VFSManager whose get_pin_index_zero_copy(_sync) / get_metrics_zero_copy(_sync) return
IPFS-Kit's dicts (success, pins or metrics as a list of dicts, method, source, timestamp)."""
from .compat import VFSManager, get_global_vfs_manager

__all__ = ["VFSManager", "get_global_vfs_manager"]

//! HNSW graphs. TODO(helper).

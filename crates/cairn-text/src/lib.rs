//! cairn-text — text retrieval building blocks for Cairn: a tokenizer
//! pipeline, block-compressed postings, one-byte field norms and a BM25
//! scorer with block-max top-k (term, OR, AND, phrase, NOT, prefix).
//!
//! This crate knows nothing of rows, transactions or files. A *part* is an
//! immutable, numbered set of documents (`0..n_docs`, dense `u32` ids) for
//! one text field; the caller maps ids to rows, says which documents its
//! snapshot may see ([`bm25::Liveness`]) and passes the collection
//! statistics of that snapshot ([`bm25::Bm25Stats`]), so scores are exactly
//! those of an index rebuilt over the visible rows. Most users want the SQL
//! surface of the `cairn` crate instead.
//!
//! Depends on `unicode-segmentation`, `unicode-normalization` and `frostem`
//! (see `../shared/design/dependencies.md`); never on storage.

pub mod bm25;
pub mod tokenize;

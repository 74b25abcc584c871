//! Explicit little-endian encoding of values and catalog definitions, as
//! specified in `rfcs/0001-storage-format.md` ("Value encoding", "Catalog
//! encoding"). Decoding never panics: anything malformed is
//! [`Error::Corrupt`] naming the file and the byte offset.

use std::sync::Arc;

use cairn_core::vector::VECTOR_DIMS_MAX;
use cairn_core::{DataType, Error, Result, Value};

use cairn_vector::hnsw::{Graph, GraphParts, RERANK_DEFAULT, RERANK_MAX};
use cairn_vector::quant::{
    Codes, Quantization, RaBitQ, RabitqCodes, Sq8, Sq8Codes, RABITQ_BITS_MAX,
};

use crate::schema::{ColumnDef, IndexDef, TableSchema, TriggerDef, ViewDef};
use crate::vector::{built_graph_bytes, codes_len, BuiltGraph, VectorIndexDef};
use crate::{HnswParams, Metric};

/// Top bit of a vector index's metric byte: quantization and rerank follow
/// (RFC 0001 §3.5, WAL format ≥ 5).
const METRIC_OPTIONS: u8 = 0x80;

/// Appends a graph's codes as RFC 0001 §3.9 and the G_SQ8 / G_RABITQ
/// sections (§4.3) lay them out. SQ8: lower bounds, steps (f32 each), then
/// the codes. RaBitQ: the rotation seed (u64), the centroid (f32 each),
/// then each node's record of u64 words (bit planes, then factors).
pub(crate) fn put_codes(out: &mut Vec<u8>, codes: &Codes) {
    match codes {
        Codes::Sq8(codes) => {
            let sq = codes.sq8();
            for f in sq.lower().iter().chain(sq.step()) {
                out.extend_from_slice(&f.to_le_bytes());
            }
            out.extend_from_slice(codes.codes());
        }
        Codes::RaBitQ(codes) => {
            let rq = codes.rabitq();
            out.extend_from_slice(&rq.seed().to_le_bytes());
            for f in rq.centroid() {
                out.extend_from_slice(&f.to_le_bytes());
            }
            for w in codes.records() {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
    }
}

/// Reads what [`put_codes`] wrote for `n` nodes of `dims` dimensions: the
/// length must be exactly [`codes_len`](crate::vector::codes_len) and the parameters valid (finite,
/// steps at least 0, bits in range, factors finite); the error says what
/// is wrong.
pub(crate) fn get_codes(
    quantization: Quantization,
    bytes: &[u8],
    n: usize,
    dims: usize,
) -> std::result::Result<Codes, String> {
    if codes_len(quantization, n, dims) != Some(bytes.len()) {
        return Err(format!(
            "{} codes of {} bytes for {n} nodes of {dims} dimensions",
            quantization.name(),
            bytes.len()
        ));
    }
    let floats = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_bits(le32(c, 0)))
            .collect()
    };
    match quantization {
        Quantization::None => Err("no codes for an unquantized index".into()),
        Quantization::Sq8 => {
            let (lower, rest) = bytes.split_at(dims * 4);
            let (step, codes) = rest.split_at(dims * 4);
            let sq = Sq8::from_parts(floats(lower), floats(step))?;
            Ok(Codes::Sq8(Sq8Codes::from_codes(sq, codes.to_vec())))
        }
        Quantization::RaBitQ { bits } => {
            let (seed, rest) = bytes.split_at(8);
            let (centroid, records) = rest.split_at(dims * 4);
            let seed = le64(seed, 0);
            let rq = RaBitQ::from_parts(dims, bits, seed, floats(centroid))?;
            let records = records.chunks_exact(8).map(|c| le64(c, 0)).collect();
            Ok(Codes::RaBitQ(RabitqCodes::from_records(rq, records)?))
        }
    }
}

/// The little-endian u32 at `b[at..at + 4]` (the caller checked the bounds).
pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

/// The little-endian u64 at `b[at..at + 8]` (the caller checked the bounds).
pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Appends little-endian fields to a buffer.
pub(crate) struct Enc<'a>(pub(crate) &'a mut Vec<u8>);

impl Enc<'_> {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }

    pub(crate) fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.u8(0),
            Value::Boolean(b) => {
                self.u8(1);
                self.u8(u8::from(*b));
            }
            Value::Integer(i) => {
                self.u8(2);
                self.i64(*i);
            }
            Value::Real(f) => {
                self.u8(3);
                self.u64(f.to_bits());
            }
            Value::Text(s) => {
                self.u8(4);
                self.str(s);
            }
            Value::Blob(b) => {
                self.u8(5);
                self.bytes(b);
            }
            Value::Timestamp(t) => {
                self.u8(6);
                self.i64(*t);
            }
            Value::Json(s) => {
                self.u8(7);
                self.str(s);
            }
            Value::Vector(v) => {
                self.u8(8);
                self.len(v.len());
                for x in v.iter() {
                    self.0.extend_from_slice(&x.to_le_bytes());
                }
            }
            Value::HalfVec(v) => {
                self.u8(9);
                self.len(v.len());
                for x in v.iter() {
                    self.0.extend_from_slice(&x.to_bits().to_le_bytes());
                }
            }
        }
    }

    pub(crate) fn values(&mut self, vs: &[Value]) {
        self.len(vs.len());
        for v in vs {
            self.value(v);
        }
    }

    fn data_type(&mut self, t: &DataType) {
        let (tag, n) = match t {
            DataType::Integer => (0, 0),
            DataType::Real => (1, 0),
            DataType::Text => (2, 0),
            DataType::Boolean => (3, 0),
            DataType::Blob => (4, 0),
            DataType::Timestamp => (5, 0),
            DataType::Json => (6, 0),
            DataType::Vector(n) => (7, *n),
            DataType::HalfVec(n) => (8, *n),
            DataType::Any => (9, 0),
        };
        self.u8(tag);
        self.u32(n);
    }

    fn usizes(&mut self, v: &[usize]) {
        self.len(v.len());
        for &x in v {
            self.u32(u32::try_from(x).unwrap_or(u32::MAX));
        }
    }

    pub(crate) fn column(&mut self, c: &ColumnDef) {
        self.str(&c.name);
        self.data_type(&c.data_type);
        self.str(&c.declared_type);
        self.u8(u8::from(c.nullable));
        self.opt_str(c.default_sql.as_deref());
        self.value(&c.added_default);
    }

    pub(crate) fn schema(&mut self, s: &TableSchema) {
        self.str(&s.name);
        self.len(s.columns.len());
        for c in &s.columns {
            self.column(c);
        }
        match &s.primary_key {
            None => self.u8(0),
            Some(pk) => {
                self.u8(1);
                self.usizes(pk);
            }
        }
        self.len(s.checks.len());
        for c in &s.checks {
            self.str(c);
        }
        match s.auto_increment {
            None => self.u8(0),
            Some(c) => {
                self.u8(1);
                self.u32(c as u32);
            }
        }
        self.str(&s.create_sql);
    }

    pub(crate) fn index(&mut self, d: &IndexDef) {
        self.str(&d.name);
        self.usizes(&d.columns);
        self.u8(u8::from(d.unique));
        self.u8(u8::from(d.primary));
        self.opt_str(d.create_sql.as_deref());
    }

    pub(crate) fn vector_index(&mut self, d: &VectorIndexDef) {
        self.str(&d.name);
        self.u32(d.column as u32);
        self.u32(d.dims as u32);
        self.u32(d.params.m as u32);
        self.u32(d.params.ef_construction as u32);
        let metric = match d.params.metric {
            Metric::L2 => 0,
            Metric::Cosine => 1,
            Metric::InnerProduct => 2,
        };
        // Options beyond the first format's flag themselves in the metric
        // byte's top bit (WAL format ≥ 5), so an index without them keeps
        // the bytes it always had.
        let options = d.quantization != Quantization::None || d.rerank != RERANK_DEFAULT;
        self.u8(metric | if options { METRIC_OPTIONS } else { 0 });
        if options {
            match d.quantization {
                Quantization::None => self.u8(0),
                Quantization::Sq8 => self.u8(1),
                // The bits follow the codec byte (WAL format ≥ 6).
                Quantization::RaBitQ { bits } => {
                    self.u8(2);
                    self.u8(bits);
                }
            }
            self.u32(d.rerank as u32);
        }
        self.u64(d.compact_ratio.to_bits());
        self.str(&d.create_sql);
    }

    /// A built graph (RFC 0001 §3.9): shape, then its arrays and live
    /// flags. `live` has one flag per node.
    pub(crate) fn built_graph(&mut self, p: &GraphParts, live: &[bool]) {
        debug_assert_eq!(live.len(), p.keys.len(), "one live flag per node");
        self.u64(p.keys.len() as u64);
        self.u64(p.upper.len() as u64);
        self.u32(p.entry_point);
        self.u8(p.max_level);
        let out = &mut *self.0;
        out.reserve(p.keys.len() * 13 + (p.level0.len() + p.upper.len() + p.vectors.len()) * 4);
        for k in &p.keys {
            out.extend_from_slice(&k.to_le_bytes());
        }
        out.extend_from_slice(&p.levels);
        for x in p.upper_offset.iter().chain(&p.level0).chain(&p.upper) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for f in &p.vectors {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out.extend(live.iter().map(|&l| u8::from(l)));
        if let Some(codes) = &p.codes {
            put_codes(out, codes);
        }
    }

    pub(crate) fn view(&mut self, v: &ViewDef) {
        self.str(&v.name);
        self.len(v.columns.len());
        for c in &v.columns {
            self.str(c);
        }
        self.str(&v.query_sql);
        self.str(&v.create_sql);
    }

    /// A trigger: name, table, CREATE TRIGGER text (RFC 0001 §3.5).
    pub(crate) fn trigger(&mut self, t: &TriggerDef) {
        self.str(&t.name);
        self.str(&t.table);
        self.str(&t.create_sql);
    }
}

/// Reads little-endian fields; every failure names `file` and the absolute
/// offset (`base` + position).
pub(crate) struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
    file: &'a str,
    base: u64,
}

impl<'a> Dec<'a> {
    pub(crate) fn new(buf: &'a [u8], file: &'a str, base: u64) -> Dec<'a> {
        Dec {
            buf,
            pos: 0,
            file,
            base,
        }
    }

    pub(crate) fn err(&self, detail: impl Into<String>) -> Error {
        Error::corrupt(self.file, self.base + self.pos as u64, detail)
    }

    /// The next byte, not consumed.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub(crate) fn done(&self) -> bool {
        self.pos == self.buf.len()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err(format!("{n} bytes needed, record ends first")))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub(crate) fn hash(&mut self) -> Result<cairn_merkle::Hash> {
        Ok(cairn_merkle::Hash(self.array()?))
    }
    pub(crate) fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.err(format!("boolean byte {b}"))),
        }
    }
    /// A count of items each at least `min_item` bytes long (so a bad count
    /// cannot make us allocate more than the buffer could hold).
    pub(crate) fn count(&mut self, min_item: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        let left = self.buf.len() - self.pos;
        if n.saturating_mul(min_item.max(1)) > left {
            return Err(self.err(format!("count {n} exceeds the {left} bytes left")));
        }
        Ok(n)
    }
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.count(1)?;
        self.take(n)
    }
    pub(crate) fn str(&mut self) -> Result<&'a str> {
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|_| self.err("text is not UTF-8"))
    }
    fn opt_str(&mut self) -> Result<Option<String>> {
        Ok(if self.bool()? {
            Some(self.str()?.to_string())
        } else {
            None
        })
    }

    fn dims(&mut self, elem: usize) -> Result<usize> {
        let n = self.count(elem)?;
        if n == 0 || n > VECTOR_DIMS_MAX {
            return Err(self.err(format!("vector with {n} dimensions")));
        }
        Ok(n)
    }

    pub(crate) fn value(&mut self) -> Result<Value> {
        Ok(match self.u8()? {
            0 => Value::Null,
            1 => Value::Boolean(self.bool()?),
            2 => Value::Integer(self.i64()?),
            3 => Value::Real(f64::from_bits(self.u64()?)),
            4 => Value::Text(Arc::from(self.str()?)),
            5 => Value::Blob(Arc::from(self.bytes()?)),
            6 => Value::Timestamp(self.i64()?),
            7 => Value::Json(Arc::from(self.str()?)),
            8 => {
                let n = self.dims(4)?;
                let raw = self.take(n * 4)?;
                let v: Vec<f32> = raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(self.err("vector element is not finite"));
                }
                Value::Vector(v.into())
            }
            9 => {
                let n = self.dims(2)?;
                let raw = self.take(n * 2)?;
                let v: Vec<half::f16> = raw
                    .chunks_exact(2)
                    .map(|c| half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])))
                    .collect();
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(self.err("vector element is not finite"));
                }
                Value::HalfVec(v.into())
            }
            t => return Err(self.err(format!("unknown value tag {t}"))),
        })
    }

    pub(crate) fn values(&mut self) -> Result<Vec<Value>> {
        let n = self.count(1)?;
        (0..n).map(|_| self.value()).collect()
    }

    fn data_type(&mut self) -> Result<DataType> {
        let tag = self.u8()?;
        let n = self.u32()?;
        if n != 0 && !matches!(tag, 7 | 8) {
            return Err(self.err(format!("type tag {tag} with a dimension ({n})")));
        }
        Ok(match tag {
            0 => DataType::Integer,
            1 => DataType::Real,
            2 => DataType::Text,
            3 => DataType::Boolean,
            4 => DataType::Blob,
            5 => DataType::Timestamp,
            6 => DataType::Json,
            7 => DataType::Vector(n),
            8 => DataType::HalfVec(n),
            9 => DataType::Any,
            t => return Err(self.err(format!("unknown type tag {t}"))),
        })
    }

    fn usizes(&mut self) -> Result<Vec<usize>> {
        let n = self.count(4)?;
        (0..n).map(|_| Ok(self.u32()? as usize)).collect()
    }

    pub(crate) fn column(&mut self) -> Result<ColumnDef> {
        Ok(ColumnDef {
            name: self.str()?.to_string(),
            data_type: self.data_type()?,
            declared_type: self.str()?.to_string(),
            nullable: self.bool()?,
            default_sql: self.opt_str()?,
            added_default: self.value()?,
        })
    }

    pub(crate) fn schema(&mut self) -> Result<TableSchema> {
        let name = self.str()?.to_string();
        let n = self.count(1)?;
        let columns = (0..n).map(|_| self.column()).collect::<Result<Vec<_>>>()?;
        let primary_key = if self.bool()? {
            Some(self.usizes()?)
        } else {
            None
        };
        let n = self.count(4)?;
        let checks = (0..n)
            .map(|_| Ok(self.str()?.to_string()))
            .collect::<Result<Vec<_>>>()?;
        let auto_increment = if self.bool()? {
            Some(self.u32()? as usize)
        } else {
            None
        };
        let create_sql = self.str()?.to_string();
        let cols = columns.len();
        let bad = primary_key
            .iter()
            .flatten()
            .chain(auto_increment.iter())
            .any(|&c| c >= cols);
        if bad {
            return Err(self.err(format!("table {name}: column position out of range")));
        }
        Ok(TableSchema {
            name,
            columns,
            primary_key,
            checks,
            auto_increment,
            create_sql,
        })
    }

    pub(crate) fn index(&mut self) -> Result<IndexDef> {
        Ok(IndexDef {
            name: self.str()?.to_string(),
            columns: self.usizes()?,
            unique: self.bool()?,
            primary: self.bool()?,
            create_sql: self.opt_str()?,
        })
    }

    pub(crate) fn vector_index(&mut self) -> Result<VectorIndexDef> {
        let name = self.str()?.to_string();
        let column = self.u32()? as usize;
        let dims = self.u32()? as usize;
        let m = self.u32()? as usize;
        let ef_construction = self.u32()? as usize;
        let byte = self.u8()?;
        let metric = match byte & !METRIC_OPTIONS {
            0 => Metric::L2,
            1 => Metric::Cosine,
            2 => Metric::InnerProduct,
            t => return Err(self.err(format!("unknown metric {t}"))),
        };
        let (quantization, rerank) = if byte & METRIC_OPTIONS != 0 {
            let quantization = match self.u8()? {
                0 => Quantization::None,
                1 => Quantization::Sq8,
                2 => match self.u8()? {
                    bits @ 1..=RABITQ_BITS_MAX => Quantization::RaBitQ { bits },
                    bits => {
                        return Err(self.err(format!("vector index {name}: rabitq bits {bits}")))
                    }
                },
                t => return Err(self.err(format!("unknown quantization {t}"))),
            };
            let rerank = self.u32()? as usize;
            if !(1..=RERANK_MAX).contains(&rerank) {
                return Err(self.err(format!("vector index {name}: rerank {rerank}")));
            }
            (quantization, rerank)
        } else {
            (Quantization::None, RERANK_DEFAULT)
        };
        let compact_ratio = f64::from_bits(self.u64()?);
        let create_sql = self.str()?.to_string();
        if dims == 0 || dims > VECTOR_DIMS_MAX || m < 2 || ef_construction == 0 {
            return Err(self.err(format!("vector index {name}: bad parameters")));
        }
        Ok(VectorIndexDef {
            name,
            column,
            dims,
            params: HnswParams {
                m,
                ef_construction,
                metric,
            },
            quantization,
            rerank,
            compact_ratio,
            create_sql,
        })
    }

    /// A built graph of index `def` (RFC 0001 §3.9), checked by
    /// `Graph::from_parts` (sizes, offsets, neighbour ids, entry point,
    /// finite vectors) and its live flags (0 or 1).
    pub(crate) fn built_graph(&mut self, def: &VectorIndexDef) -> Result<BuiltGraph> {
        let shape_at = self.pos;
        let n = usize::try_from(self.u64()?).map_err(|_| self.err("graph too large"))?;
        let upper_len = usize::try_from(self.u64()?).map_err(|_| self.err("graph too large"))?;
        let entry_point = self.u32()?;
        let max_level = self.u8()?;
        let want = built_graph_bytes(def, n, upper_len).map(|b| b - (8 + 8 + 4 + 1));
        if want.is_none_or(|w| w > self.buf.len() - self.pos) {
            return Err(self.err(format!(
                "a graph of {n} nodes and {upper_len} upper slots does not fit the record"
            )));
        }
        let stride0 = 1 + 2 * def.params.m;
        let u32s = |d: &mut Self, count: usize| -> Result<Vec<u32>> {
            Ok(d.take(count * 4)?
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        let keys = self
            .take(n * 8)?
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                u64::from_le_bytes(a)
            })
            .collect();
        let levels = self.take(n)?.to_vec();
        let upper_offset = u32s(self, n)?;
        let level0 = u32s(self, n * stride0)?;
        let upper = u32s(self, upper_len)?;
        let vectors = u32s(self, n * def.dims)?
            .into_iter()
            .map(f32::from_bits)
            .collect();
        let flags_at = self.pos;
        let live = self
            .take(n)?
            .iter()
            .map(|&b| match b {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(b),
            })
            .collect::<std::result::Result<Vec<bool>, u8>>()
            .map_err(|b| {
                Error::corrupt(
                    self.file,
                    self.base + flags_at as u64,
                    format!("live flag {b}"),
                )
            })?;
        let codes = match def.quantization {
            Quantization::None => None,
            q => {
                let at = self.pos;
                let len = codes_len(q, n, def.dims).ok_or_else(|| self.err("codes too large"))?;
                let codes = get_codes(q, self.take(len)?, n, def.dims).map_err(|e| {
                    Error::corrupt(
                        self.file,
                        self.base + at as u64,
                        format!("vector index {}: {e}", def.name),
                    )
                })?;
                Some(codes)
            }
        };
        let graph = Graph::from_parts(GraphParts {
            params: def.params,
            dims: def.dims,
            vectors,
            keys,
            levels,
            level0,
            upper_offset,
            upper,
            entry_point,
            max_level,
            codes,
        })
        .map_err(|e| {
            Error::corrupt(
                self.file,
                self.base + shape_at as u64,
                format!("vector index {}: {e}", def.name),
            )
        })?;
        Ok(BuiltGraph { graph, live })
    }

    pub(crate) fn view(&mut self) -> Result<ViewDef> {
        let name = self.str()?.to_string();
        let n = self.count(4)?;
        let columns = (0..n)
            .map(|_| Ok(self.str()?.to_string()))
            .collect::<Result<Vec<_>>>()?;
        Ok(ViewDef {
            name,
            columns,
            query_sql: self.str()?.to_string(),
            create_sql: self.str()?.to_string(),
        })
    }

    pub(crate) fn trigger(&mut self) -> Result<TriggerDef> {
        Ok(TriggerDef {
            name: self.str()?.to_string(),
            table: self.str()?.to_string(),
            create_sql: self.str()?.to_string(),
        })
    }
}

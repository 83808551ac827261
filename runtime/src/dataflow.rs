//! A dataflow: operators connected in a DAG, from scans of stored relations to one output.
//!
//! Nodes are added in topological order (a node's inputs exist before it), so one pass in id
//! order delivers every change: each node processes its queued inputs, in arrival order, and
//! queues its output for its consumers. Changes to one relation that feed several scans (a
//! self-join) are delivered to each scan; bilinear operators process them one port at a time,
//! which yields the exact change of the result.
//!
//! Event time: each scan carries its relation's watermark; every other node's watermark is
//! the minimum over those of its inputs that have one. When a node's watermark advances, the
//! node first processes the changes queued for it and then [`Operator::on_watermark`], whose
//! output flows on like any change. Watermarks only move forward.

use arrow::datatypes::SchemaRef;
use sluice_storage::{RowCodec, StateReader, StateWriter};

use crate::change::ChangeBatch;
use crate::error::{Result, RuntimeError};
use crate::operators::{Operator, Scan};

/// Index of a node in its dataflow.
pub type NodeId = usize;

struct Node {
    operator: Box<dyn Operator>,
    inputs: Vec<NodeId>,
    consumers: Vec<(NodeId, usize)>,
    /// Event-time watermark in nanoseconds, once known.
    watermark: Option<i64>,
    /// An idle input (a source that has sent nothing for its idle timeout) does not hold
    /// back the watermark of the nodes it feeds; a node whose inputs are all idle is idle.
    idle: bool,
}

/// Builds a dataflow node by node.
#[derive(Default)]
pub struct DataflowBuilder {
    nodes: Vec<Node>,
    scans: Vec<(String, NodeId)>,
}

impl DataflowBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a scan of a stored relation.
    pub fn scan(&mut self, scan: Scan) -> NodeId {
        let relation = scan.relation().to_string();
        let id = self.add(Box::new(scan), vec![]);
        self.scans.push((relation, id));
        id
    }

    /// Add an operator whose input port `i` is fed by `inputs[i]`.
    pub fn add(&mut self, operator: Box<dyn Operator>, inputs: Vec<NodeId>) -> NodeId {
        let id = self.nodes.len();
        for (port, &input) in inputs.iter().enumerate() {
            self.nodes[input].consumers.push((id, port));
        }
        self.nodes.push(Node {
            operator,
            inputs,
            consumers: Vec::new(),
            watermark: None,
            idle: false,
        });
        id
    }

    pub fn schema(&self, node: NodeId) -> SchemaRef {
        self.nodes[node].operator.schema()
    }

    /// Finish with `output` as the result node.
    pub fn build(self, output: NodeId) -> Result<Dataflow> {
        if output >= self.nodes.len() {
            return Err(RuntimeError::Internal(
                "dataflow output does not exist".into(),
            ));
        }
        let schema = self.nodes[output].operator.schema();
        Ok(Dataflow {
            output_codec: RowCodec::for_schema(&schema)?,
            nodes: self.nodes,
            scans: self.scans,
            output,
            schema,
        })
    }
}

/// A running incremental query.
pub struct Dataflow {
    nodes: Vec<Node>,
    scans: Vec<(String, NodeId)>,
    output: NodeId,
    schema: SchemaRef,
    output_codec: RowCodec,
}

impl Dataflow {
    /// Schema of the result.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Names of the stored relations this dataflow reads (with repetitions for self-joins).
    pub fn relations(&self) -> impl Iterator<Item = &str> {
        self.scans.iter().map(|(name, _)| name.as_str())
    }

    /// Emit the result over empty inputs (constants, global aggregates). Call once, first.
    pub fn initialize(&mut self) -> Result<ChangeBatch> {
        self.run(Vec::new(), true, None)
    }

    /// The watermark of `relation` advanced to `watermark` (nanoseconds): return the changes
    /// this releases (closed windows).
    pub fn advance_watermark(&mut self, relation: &str, watermark: i64) -> Result<ChangeBatch> {
        if !self.scans.iter().any(|(name, _)| name == relation) {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        self.run(Vec::new(), false, Some((relation, watermark)))
    }

    /// `relation` has event time: until it reports a watermark (or becomes idle) its scans
    /// hold back the watermark of everything they feed, as a Flink source does before its
    /// first watermark. Call before any watermark arrives.
    pub fn declare_event_time(&mut self, relation: &str) {
        for (name, id) in &self.scans {
            if name == relation && self.nodes[*id].watermark.is_none() {
                self.nodes[*id].watermark = Some(i64::MIN);
            }
        }
    }

    /// Mark the scans of `relation` idle (or active again) and return what the recomputed
    /// watermarks release.
    pub fn set_idle(&mut self, relation: &str, idle: bool) -> Result<ChangeBatch> {
        let mut changed = false;
        for (name, id) in &self.scans {
            if name == relation && self.nodes[*id].idle != idle {
                self.nodes[*id].idle = idle;
                changed = true;
            }
        }
        if !changed {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        self.run(Vec::new(), false, Some((relation, i64::MIN)))
    }

    /// The watermark of the result, once every watermarked input has one.
    pub fn output_watermark(&self) -> Option<i64> {
        self.nodes[self.output].watermark
    }

    /// The dataflow's state for a checkpoint: per node, its watermark, idleness and its
    /// operator's state. Taken between batches, so it is a consistent cut.
    pub fn snapshot(&mut self) -> Result<Vec<u8>> {
        let mut out = StateWriter::new();
        out.put_u64(self.nodes.len() as u64);
        for node in self.nodes.iter_mut() {
            out.put_opt_i64(node.watermark);
            out.put_bool(node.idle);
            out.put_section(|inner| node.operator.snapshot(inner))?;
        }
        Ok(out.into_bytes())
    }

    /// Restore a state written by [`Dataflow::snapshot`] of a dataflow compiled from the
    /// same query.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        let mut input = StateReader::new(bytes);
        let nodes = input.u64()?;
        if nodes != self.nodes.len() as u64 {
            return Err(RuntimeError::Internal(format!(
                "checkpoint has {nodes} operators, the dataflow {}",
                self.nodes.len()
            )));
        }
        for node in self.nodes.iter_mut() {
            node.watermark = input.opt_i64()?;
            node.idle = input.bool()?;
            let mut section = input.section()?;
            node.operator.restore(&mut section)?;
            section.finish()?;
        }
        input.finish()?;
        Ok(())
    }

    /// Rows dropped as late by all operators.
    pub fn late_rows(&self) -> u64 {
        self.nodes.iter().map(|n| n.operator.late_rows()).sum()
    }

    /// Feed changes of `relation` and return the consolidated change of the result.
    pub fn push(&mut self, relation: &str, changes: &ChangeBatch) -> Result<ChangeBatch> {
        let entries: Vec<(NodeId, ChangeBatch)> = self
            .scans
            .iter()
            .filter(|(name, _)| name == relation)
            .map(|(_, id)| (*id, changes.clone()))
            .collect();
        if entries.is_empty() || changes.is_empty() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        self.run(entries, false, None)
    }

    fn run(
        &mut self,
        entries: Vec<(NodeId, ChangeBatch)>,
        initial: bool,
        watermark: Option<(&str, i64)>,
    ) -> Result<ChangeBatch> {
        // `i64::MIN` only asks to recompute the watermarks (after an idleness change).
        if let Some((relation, value)) = watermark.filter(|(_, value)| *value != i64::MIN) {
            for (name, id) in &self.scans {
                if name == relation {
                    let node = &mut self.nodes[*id];
                    node.watermark = Some(node.watermark.map_or(value, |w| w.max(value)));
                }
            }
        }
        let mut queues: Vec<Vec<(usize, ChangeBatch)>> =
            (0..self.nodes.len()).map(|_| Vec::new()).collect();
        for (id, changes) in entries {
            queues[id].push((0, changes));
        }
        let mut results = Vec::new();
        for id in 0..self.nodes.len() {
            let mut outputs = Vec::new();
            if initial {
                if let Some(changes) = self.nodes[id].operator.initial()? {
                    outputs.push(changes);
                }
            }
            for (port, changes) in std::mem::take(&mut queues[id]) {
                outputs.push(self.nodes[id].operator.process(port, changes)?);
            }
            if watermark.is_some() && !self.nodes[id].inputs.is_empty() {
                let inputs = &self.nodes[id].inputs;
                let idle = inputs.iter().all(|&input| self.nodes[input].idle);
                let combined = inputs
                    .iter()
                    .filter(|&&input| !self.nodes[input].idle)
                    .filter_map(|&input| self.nodes[input].watermark)
                    .min();
                self.nodes[id].idle = idle;
                if let Some(combined) = combined {
                    if self.nodes[id].watermark.is_none_or(|w| w < combined) {
                        self.nodes[id].watermark = Some(combined);
                        outputs.push(self.nodes[id].operator.on_watermark(combined)?);
                    }
                }
            }
            for output in outputs {
                if output.is_empty() {
                    continue;
                }
                for &(consumer, port) in &self.nodes[id].consumers {
                    queues[consumer].push((port, output.clone()));
                }
                if id == self.output {
                    results.push(output);
                }
            }
        }
        ChangeBatch::concat(&self.schema, &results)?.consolidate(&self.output_codec)
    }

    /// Total rows held in operator state.
    pub fn state_rows(&self) -> usize {
        self.nodes.iter().map(|n| n.operator.state_rows()).sum()
    }

    /// The operator tree as indented text, output first (for EXPLAIN).
    pub fn explain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        self.explain_node(self.output, 0, &mut lines);
        lines
    }

    fn explain_node(&self, id: NodeId, depth: usize, lines: &mut Vec<String>) {
        let node = &self.nodes[id];
        let describe = node.operator.describe();
        let indent = "  ".repeat(depth);
        if describe.is_empty() {
            lines.push(format!("{indent}{}", node.operator.name()));
        } else {
            lines.push(format!("{indent}{}: {describe}", node.operator.name()));
        }
        for &input in &node.inputs {
            self.explain_node(input, depth + 1, lines);
        }
    }
}

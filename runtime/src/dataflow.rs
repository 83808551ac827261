//! A dataflow: operators connected in a DAG, from scans of stored relations to one output.
//!
//! Nodes are added in topological order (a node's inputs exist before it), so one pass in id
//! order delivers every change: each node processes its queued inputs, in arrival order, and
//! queues its output for its consumers. A node may feed several consumers, or both ports of
//! one (the planner builds a sub-plan that occurs twice, such as the scan of a self-join,
//! once); changes to one relation that feed several scans are delivered to each scan.
//! Bilinear operators process their ports' changes one port at a time, which yields the
//! exact change of the result also when both ports receive the same change.
//!
//! Parallelism: a dataflow runs its operators in `partitions` instances each (see
//! [`Dataflow::parallelize`]). A keyed operator (group, join key, top-N partition) gets the
//! rows of a key always at the same instance, so each instance holds the state of its share of
//! the keys: changes between nodes go through an exchange that hashes the key columns (a
//! stable hash of their memcomparable encoding, so a restored checkpoint routes keys where
//! their state is). Stateless operators process their input where it is (split evenly when it
//! comes from a single instance); operators with unkeyed state (global aggregates) keep one
//! instance. Worker `w` runs instance `w` of every node, node after node, on a thread of its
//! own; a worker waits at a node only for the instances that can send to it (see
//! `Dataflow::run_step`).
//!
//! Event time: each scan carries its relation's watermark; every other node's watermark is
//! the minimum over those of its inputs that have one. When a node's watermark advances, the
//! node first processes the changes queued for it and then [`Operator::on_watermark`], whose
//! output flows on like any change. Watermarks only move forward.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use arrow::array::UInt32Array;
use arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalExpr;
use sluice_storage::{RowCodec, StateReader, StateWriter};

use crate::change::ChangeBatch;
use crate::error::{Result, RuntimeError};
use crate::operators::{evaluate_all, Operator, Partitioning, Scan};

/// Index of a node in its dataflow.
pub type NodeId = usize;

struct Node {
    /// The operator's instances: one, or one per partition.
    instances: Vec<Box<dyn Operator>>,
    /// Per input port, how rows are routed to the instances.
    exchanges: Vec<Exchange>,
    inputs: Vec<NodeId>,
    consumers: Vec<(NodeId, usize)>,
    /// Event-time watermark in nanoseconds, once known.
    watermark: Option<i64>,
    /// An idle input (a source that has sent nothing for its idle timeout) does not hold
    /// back the watermark of the nodes it feeds; a node whose inputs are all idle is idle.
    idle: bool,
}

/// How the changes arriving on one input port of a node reach its instances.
#[derive(Clone)]
enum Exchange {
    /// The node has one instance for all rows.
    Single,
    /// Stateless: rows stay at the producing instance's index (split evenly among the
    /// instances when they come from a single-instance producer).
    Forward,
    /// By a stable hash of the key columns.
    Hash {
        keys: Vec<Arc<dyn PhysicalExpr>>,
        codec: Arc<RowCodec>,
    },
}

impl Exchange {
    /// Divide `changes`, produced by instance `from` of `producers` instances, among
    /// `instances` consumer instances.
    fn route(
        &self,
        changes: &ChangeBatch,
        from: usize,
        producers: usize,
        instances: usize,
    ) -> Result<Vec<(usize, ChangeBatch)>> {
        if instances <= 1 {
            return Ok(vec![(0, changes.clone())]);
        }
        match self {
            Exchange::Single => Ok(vec![(0, changes.clone())]),
            Exchange::Forward if producers == instances => Ok(vec![(from, changes.clone())]),
            Exchange::Forward => {
                let rows = changes.num_rows();
                let share = rows.div_ceil(instances);
                Ok((0..instances)
                    .map(|i| (i, i * share))
                    .take_while(|(_, start)| *start < rows)
                    .map(|(i, start)| (i, changes.slice(start, share.min(rows - start))))
                    .collect())
            }
            Exchange::Hash { keys, codec } => {
                let columns = evaluate_all(keys, &changes.data)?;
                let encoded = codec.encode(&columns, changes.num_rows())?;
                let mut indices: Vec<Vec<u32>> = vec![Vec::new(); instances];
                let count = instances as u64;
                // `hash % count`; for a power of two the same value as a mask, without the
                // division (40 cycles a row: half the cost of routing on 2 workers).
                let mask = count.is_power_of_two().then(|| count - 1);
                for row in 0..encoded.len() {
                    let hash = stable_hash(encoded.row(row));
                    let target = match mask {
                        Some(mask) => hash & mask,
                        None => hash % count,
                    } as usize;
                    indices
                        .get_mut(target)
                        .ok_or_else(|| {
                            RuntimeError::Internal(format!(
                                "exchange routed a row to instance {target} of {instances}"
                            ))
                        })?
                        .push(row as u32);
                }
                indices
                    .into_iter()
                    .enumerate()
                    .filter(|(_, rows)| !rows.is_empty())
                    .map(|(i, rows)| {
                        if rows.len() == changes.num_rows() {
                            return Ok((i, changes.clone()));
                        }
                        Ok((i, changes.take(&UInt32Array::from(rows))?))
                    })
                    .collect()
            }
        }
    }
}

/// FNV-1a: the same on every machine and release, unlike the hashers of `std` and `ahash`
/// (checkpointed state must be found at the same instance after a restart).
fn stable_hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // Mix the high bits down: the low bits of FNV are weak for a modulus.
    hash ^ (hash >> 29)
}

/// The consumer instances that instance `from` of a `producers`-instance node can send to
/// over `exchange` into a node of `instances` instances (what [`Exchange::route`] may pick).
fn targets(
    exchange: &Exchange,
    from: usize,
    producers: usize,
    instances: usize,
) -> std::ops::Range<usize> {
    if instances <= 1 {
        return 0..1;
    }
    match exchange {
        Exchange::Single => 0..1,
        Exchange::Forward if producers == instances => from..from + 1,
        Exchange::Forward | Exchange::Hash { .. } => 0..instances,
    }
}

/// Where a node's output goes: a consumer's input port, its exchange and instance count.
struct Route {
    consumer: NodeId,
    port: usize,
    exchange: Exchange,
    instances: usize,
}

/// What a step asks of one node, settled before any operator runs.
struct NodeTask {
    /// The node's watermark advanced to this value.
    advanced: Option<i64>,
    /// The node's operators get an [`Operator::on_tick`] call.
    ticked: bool,
    routes: Vec<Route>,
    producers: usize,
}

/// Orders the changes an instance receives: (producer node, producer instance, sequence).
type Tag = (NodeId, usize, usize);

/// One worker's operator instances of a step: (node, instance index, operator).
type WorkerInstances<'a> = Vec<(NodeId, usize, &'a mut Box<dyn Operator>)>;

/// The changes queued for one operator instance in one step, and how many producer
/// instances have yet to finish.
#[derive(Default)]
struct Inbox {
    state: Mutex<InboxState>,
    ready: Condvar,
}

#[derive(Default)]
struct InboxState {
    queue: Vec<(Tag, usize, ChangeBatch)>,
    waiting: usize,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxState> {
        // A panic never happens while the lock is held; a poisoned lock holds valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn expect_one(&mut self) {
        self.state
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .waiting += 1;
    }

    fn deliver(&self, tag: Tag, port: usize, changes: ChangeBatch) {
        self.lock().queue.push((tag, port, changes));
    }

    /// One producer instance finished.
    fn finish_one(&self) {
        let mut state = self.lock();
        state.waiting = state.waiting.saturating_sub(1);
        if state.waiting == 0 {
            self.ready.notify_all();
        }
    }

    /// Wait until every producer finished, then take the changes in delivery order.
    fn take(&self) -> Vec<(Tag, usize, ChangeBatch)> {
        let mut state = self.lock();
        while state.waiting > 0 {
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let mut queue = std::mem::take(&mut state.queue);
        queue.sort_by_key(|(tag, _, _)| *tag);
        queue
    }
}

/// What the workers of one step share.
struct StepContext<'a> {
    tasks: &'a [NodeTask],
    inboxes: &'a [Vec<Inbox>],
    output: NodeId,
    initial: bool,
    /// The first error; once set, workers only pass on "finished" (so none waits forever).
    failure: Mutex<Option<RuntimeError>>,
}

impl StepContext<'_> {
    fn fail(&self, error: RuntimeError) {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure.get_or_insert(error);
    }

    fn failed(&self) -> bool {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    fn take_failure(&self) -> Option<RuntimeError> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Run one worker's instances in node order; returns the outputs of the result node,
    /// tagged for ordering.
    fn work(&self, operators: WorkerInstances) -> Vec<((usize, usize), ChangeBatch)> {
        let mut results = Vec::new();
        for (id, index, operator) in operators {
            let task = &self.tasks[id];
            let queue = self.inboxes[id][index].take();
            if !self.failed() {
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.run_instance(id, index, operator, queue, &mut results)
                }));
                match run {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => self.fail(error),
                    Err(_) => self.fail(RuntimeError::Internal(format!(
                        "operator {} panicked",
                        operator.name()
                    ))),
                }
            }
            for route in &task.routes {
                for target in targets(&route.exchange, index, task.producers, route.instances) {
                    self.inboxes[route.consumer][target].finish_one();
                }
            }
        }
        results
    }

    /// Process instance `index` of node `id` and deliver its output to its consumers.
    fn run_instance(
        &self,
        id: NodeId,
        index: usize,
        operator: &mut Box<dyn Operator>,
        queue: Vec<(Tag, usize, ChangeBatch)>,
        results: &mut Vec<((usize, usize), ChangeBatch)>,
    ) -> Result<()> {
        let task = &self.tasks[id];
        let first = self.initial && index == 0;
        if !first && !task.ticked && task.advanced.is_none() && queue.is_empty() {
            return Ok(());
        }
        let mut outputs = Vec::new();
        if first {
            if let Some(changes) = operator.initial()? {
                outputs.push(changes);
            }
        }
        for (_, port, changes) in queue {
            outputs.push(operator.process(port, changes)?);
        }
        if let Some(watermark) = task.advanced {
            outputs.push(operator.on_watermark(watermark)?);
        }
        if task.ticked {
            outputs.push(operator.on_tick()?);
        }
        let routes = task.routes.len();
        for (sequence, output) in outputs.into_iter().enumerate() {
            if output.is_empty() {
                continue;
            }
            for (r, route) in task.routes.iter().enumerate() {
                for (instance, part) in
                    route
                        .exchange
                        .route(&output, index, task.producers, route.instances)?
                {
                    self.inboxes[route.consumer][instance].deliver(
                        (id, index, sequence * routes + r),
                        route.port,
                        part,
                    );
                }
            }
            if id == self.output {
                results.push(((index, sequence), output));
            }
        }
        Ok(())
    }
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
        let exchanges = match operator.partitioning() {
            Partitioning::Single => vec![Exchange::Single; inputs.len()],
            Partitioning::Any => vec![Exchange::Forward; inputs.len()],
            Partitioning::Keyed { keys, types } => match RowCodec::new(types) {
                Ok(codec) => {
                    let codec = Arc::new(codec);
                    keys.into_iter()
                        .map(|keys| Exchange::Hash {
                            keys,
                            codec: codec.clone(),
                        })
                        .collect()
                }
                // Keys that cannot be encoded: keep the operator in one instance.
                Err(_) => vec![Exchange::Single; inputs.len()],
            },
        };
        let exchanges = if exchanges.len() == inputs.len() {
            exchanges
        } else {
            vec![Exchange::Single; inputs.len()]
        };
        self.nodes.push(Node {
            instances: vec![operator],
            exchanges,
            inputs,
            consumers: Vec::new(),
            watermark: None,
            idle: false,
        });
        id
    }

    pub fn schema(&self, node: NodeId) -> SchemaRef {
        self.nodes[node].instances[0].schema()
    }

    /// Finish with `output` as the result node.
    pub fn build(self, output: NodeId) -> Result<Dataflow> {
        if output >= self.nodes.len() {
            return Err(RuntimeError::Internal(
                "dataflow output does not exist".into(),
            ));
        }
        let schema = self.nodes[output].instances[0].schema();
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

    /// Whether an operator acts on the wall clock (see [`Dataflow::tick`]).
    pub fn wants_ticks(&self) -> bool {
        self.nodes
            .iter()
            .any(|node| node.instances.iter().any(|i| i.wants_ticks()))
    }

    /// The wall clock advanced while the inputs were quiet: return what processing-time
    /// windows whose end it passed release.
    pub fn tick(&mut self) -> Result<ChangeBatch> {
        if !self.wants_ticks() {
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        self.run_step(Vec::new(), false, None, true)
    }

    /// The watermark of the result, once every watermarked input has one.
    pub fn output_watermark(&self) -> Option<i64> {
        self.emitted_watermark(self.output)
    }

    /// The watermark node `id` passes on: its inputs', held back by its operator's
    /// [`Operator::watermark_delay`] (the first and the last watermark pass unchanged).
    fn emitted_watermark(&self, id: NodeId) -> Option<i64> {
        let node = &self.nodes[id];
        let delay = node.instances.first().map_or(0, |i| i.watermark_delay());
        node.watermark.map(|w| match w {
            i64::MIN | i64::MAX => w,
            w => w.saturating_sub(delay),
        })
    }

    /// Run every operator that can be partitioned in `partitions` instances (see the module
    /// documentation). Call before the first change, or restore a checkpoint after: the
    /// number of instances is part of the state.
    pub fn parallelize(&mut self, partitions: usize) -> Result<()> {
        let partitions = partitions.max(1);
        for node in self.nodes.iter_mut() {
            let partitionable = node
                .exchanges
                .iter()
                .all(|e| !matches!(e, Exchange::Single))
                && !node.inputs.is_empty();
            let wanted = if partitionable { partitions } else { 1 };
            node.instances.truncate(wanted);
            while node.instances.len() < wanted {
                let fork = node.instances[0].fork()?;
                node.instances.push(fork);
            }
        }
        Ok(())
    }

    /// The number of instances of the dataflow's partitioned operators (1 if none is).
    pub fn partitions(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| n.instances.len())
            .max()
            .unwrap_or(1)
    }

    /// The dataflow's state for a checkpoint: the number of partitions, then per node its
    /// watermark, idleness and each instance's state. Taken between batches, so it is a
    /// consistent cut. Written to `out` (a checkpoint's writer: large operator state goes to
    /// its sink's streams).
    pub fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        out.put_u64(self.nodes.len() as u64);
        out.put_u64(self.partitions() as u64);
        for node in self.nodes.iter_mut() {
            out.put_opt_i64(node.watermark);
            out.put_bool(node.idle);
            for instance in node.instances.iter_mut() {
                out.put_section(|inner| instance.snapshot(inner))?;
            }
        }
        Ok(())
    }

    /// Restore a state written by [`Dataflow::snapshot`] of a dataflow compiled from the
    /// same query (with the partition count it was written with); `input` (a checkpoint's
    /// reader, with its streams) must hold nothing else.
    pub fn restore(&mut self, input: &mut StateReader) -> Result<()> {
        let nodes = input.u64()?;
        if nodes != self.nodes.len() as u64 {
            return Err(RuntimeError::Internal(format!(
                "checkpoint has {nodes} operators, the dataflow {}",
                self.nodes.len()
            )));
        }
        let partitions = usize::try_from(input.u64()?)
            .ok()
            .filter(|p| (1..=1024).contains(p))
            .ok_or_else(|| RuntimeError::Internal("checkpoint partition count invalid".into()))?;
        self.parallelize(partitions)?;
        for node in self.nodes.iter_mut() {
            node.watermark = input.opt_i64()?;
            node.idle = input.bool()?;
            for instance in node.instances.iter_mut() {
                let mut section = input.section()?;
                instance.restore(&mut section)?;
                section.finish()?;
            }
        }
        input.finish()?;
        Ok(())
    }

    /// Rows dropped as late by all operators.
    pub fn late_rows(&self) -> u64 {
        self.instances().map(|op| op.late_rows()).sum()
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
        self.run_step(entries, initial, watermark, false)
    }

    /// One propagation through the nodes in order; `tick` also gives every operator that
    /// acts on the wall clock an [`Operator::on_tick`] call.
    ///
    /// With several partitions, worker `w` runs instance `w` of every partitioned node (and
    /// worker 0 the single-instance nodes), node after node, worker 0 on this thread and the
    /// others on threads of their own: one thread per worker and step, not per node. A worker
    /// waits at a node only until every instance that can send to its instance has finished
    /// (see [`targets`]), so chains of stateless and co-partitioned operators run without
    /// meeting the other workers. An instance processes its queued changes in the order a
    /// sequential run delivers them (by producer node, producer instance, sequence), so
    /// results do not depend on thread timing.
    fn run_step(
        &mut self,
        entries: Vec<(NodeId, ChangeBatch)>,
        initial: bool,
        watermark: Option<(&str, i64)>,
        tick: bool,
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
        // Watermarks follow only the inputs' watermarks: settle every node's first.
        let mut tasks = Vec::with_capacity(self.nodes.len());
        for id in 0..self.nodes.len() {
            let mut advanced = None;
            if watermark.is_some() && !self.nodes[id].inputs.is_empty() {
                let inputs = &self.nodes[id].inputs;
                let idle = inputs.iter().all(|&input| self.nodes[input].idle);
                let combined = inputs
                    .iter()
                    .filter(|&&input| !self.nodes[input].idle)
                    .filter_map(|&input| self.emitted_watermark(input))
                    .min();
                self.nodes[id].idle = idle;
                if let Some(combined) = combined {
                    if self.nodes[id].watermark.is_none_or(|w| w < combined) {
                        self.nodes[id].watermark = Some(combined);
                        advanced = Some(combined);
                    }
                }
            }
            let node = &self.nodes[id];
            let routes = node
                .consumers
                .iter()
                .map(|&(consumer, port)| Route {
                    consumer,
                    port,
                    exchange: self.nodes[consumer].exchanges[port].clone(),
                    instances: self.nodes[consumer].instances.len(),
                })
                .collect();
            tasks.push(NodeTask {
                advanced,
                ticked: tick && node.instances.iter().any(|i| i.wants_ticks()),
                routes,
                producers: node.instances.len(),
            });
        }
        // Each instance's inbox expects one "finished" from every producer instance that
        // can send to it, per input port.
        let mut inboxes: Vec<Vec<Inbox>> = self
            .nodes
            .iter()
            .map(|n| n.instances.iter().map(|_| Inbox::default()).collect())
            .collect();
        for task in &tasks {
            for route in &task.routes {
                for from in 0..task.producers {
                    for target in targets(&route.exchange, from, task.producers, route.instances) {
                        inboxes[route.consumer][target].expect_one();
                    }
                }
            }
        }
        for (sequence, (id, changes)) in entries.into_iter().enumerate() {
            inboxes[id][0].deliver((0, 0, sequence), 0, changes);
        }
        // Worker `w`'s instances, in node order.
        let partitions = self.partitions();
        let mut workers: Vec<WorkerInstances> = (0..partitions).map(|_| Vec::new()).collect();
        for (id, node) in self.nodes.iter_mut().enumerate() {
            for (index, operator) in node.instances.iter_mut().enumerate() {
                workers[index].push((id, index, operator));
            }
        }
        let context = StepContext {
            tasks: &tasks,
            inboxes: &inboxes,
            output: self.output,
            initial,
            failure: Mutex::new(None),
        };
        let mut results = if partitions == 1 {
            workers
                .pop()
                .map(|operators| context.work(operators))
                .unwrap_or_default()
        } else {
            std::thread::scope(|scope| {
                let context = &context;
                let mut workers = workers.into_iter();
                let first = workers.next();
                let handles: Vec<_> = workers
                    .map(|operators| scope.spawn(move || context.work(operators)))
                    .collect();
                let mut results = first.map(|ops| context.work(ops)).unwrap_or_default();
                for handle in handles {
                    match handle.join() {
                        Ok(more) => results.extend(more),
                        Err(_) => context
                            .fail(RuntimeError::Internal("a dataflow worker panicked".into())),
                    }
                }
                results
            })
        };
        if let Some(error) = context.take_failure() {
            return Err(error);
        }
        results.sort_by_key(|(tag, _)| *tag);
        let results: Vec<ChangeBatch> = results.into_iter().map(|(_, changes)| changes).collect();
        let result = ChangeBatch::concat(&self.schema, &results)?;
        // Consolidation cancels a retraction against an insertion of the same row; with
        // insertions only it could merely merge duplicate rows (weight 2 instead of two rows
        // of weight 1: the same change), so skip hashing every row of append-only streams.
        if result.is_insert_only() {
            return Ok(result);
        }
        result.consolidate(&self.output_codec)
    }

    fn instances(&self) -> impl Iterator<Item = &Box<dyn Operator>> {
        self.nodes.iter().flat_map(|n| n.instances.iter())
    }

    /// Total rows held in operator state.
    pub fn state_rows(&self) -> usize {
        self.instances().map(|op| op.state_rows()).sum()
    }

    /// Entries of operator state on disk now (see [`Operator::spilled_entries`]).
    pub fn spilled_entries(&self) -> usize {
        self.instances().map(|op| op.spilled_entries()).sum()
    }

    /// The operator tree as indented text, output first (for EXPLAIN). A node that feeds
    /// several consumers (a shared sub-plan) is marked `[shared #id]` and its inputs are
    /// listed at its first occurrence only.
    pub fn explain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut shown = vec![false; self.nodes.len()];
        self.explain_node(self.output, 0, &mut shown, &mut lines);
        lines
    }

    fn explain_node(&self, id: NodeId, depth: usize, shown: &mut [bool], lines: &mut Vec<String>) {
        let node = &self.nodes[id];
        let operator = &node.instances[0];
        let indent = "  ".repeat(depth);
        let shared = node.consumers.len() > 1;
        if shared && shown[id] {
            lines.push(format!(
                "{indent}{} [shared #{id}, shown above]",
                operator.name()
            ));
            return;
        }
        shown[id] = true;
        let describe = operator.describe();
        let mut line = if describe.is_empty() {
            format!("{indent}{}", operator.name())
        } else {
            format!("{indent}{}: {describe}", operator.name())
        };
        if node.instances.len() > 1 {
            let keyed = node
                .exchanges
                .iter()
                .any(|e| matches!(e, Exchange::Hash { .. }));
            let how = if keyed { "by key" } else { "stateless" };
            line.push_str(&format!(" [{} partitions, {how}]", node.instances.len()));
        }
        if shared {
            line.push_str(&format!(" [shared #{id}]"));
        }
        lines.push(line);
        for &input in &node.inputs {
            self.explain_node(input, depth + 1, shown, lines);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::Partitioning;
    use arrow::array::{Array, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::expressions::Column;

    /// Keyed by its one column: passes rows on, remembering the order it saw them in; fails
    /// on the value 7 and panics on 13.
    struct Recorder {
        schema: SchemaRef,
        seen: Vec<i64>,
    }

    impl Operator for Recorder {
        fn name(&self) -> &'static str {
            "Recorder"
        }

        fn schema(&self) -> SchemaRef {
            self.schema.clone()
        }

        fn partitioning(&self) -> Partitioning {
            Partitioning::Keyed {
                keys: vec![vec![Arc::new(Column::new("x", 0))]],
                types: vec![DataType::Int64],
            }
        }

        fn fork(&self) -> Result<Box<dyn Operator>> {
            Ok(Box::new(Recorder {
                schema: self.schema.clone(),
                seen: Vec::new(),
            }))
        }

        fn state_rows(&self) -> usize {
            self.seen.len()
        }

        fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
            let values = changes
                .data
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .cloned()
                .ok_or_else(|| RuntimeError::Internal("not bigint".into()))?;
            for value in values.iter().flatten() {
                match value {
                    7 => return Err(RuntimeError::Internal("seven".into())),
                    13 => panic!("thirteen"),
                    _ => self.seen.push(value),
                }
            }
            Ok(changes)
        }
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]))
    }

    fn batch(values: impl IntoIterator<Item = i64>) -> ChangeBatch {
        let values: Int64Array = values.into_iter().collect();
        ChangeBatch::inserts(RecordBatch::try_new(schema(), vec![Arc::new(values)]).unwrap())
    }

    /// scan -> recorder -> recorder (keyed exchanges both times), in `partitions` workers.
    fn dataflow(partitions: usize) -> Dataflow {
        let mut builder = DataflowBuilder::new();
        let scan = builder.scan(Scan::new("t".into(), None, schema()));
        let first = builder.add(
            Box::new(Recorder {
                schema: schema(),
                seen: Vec::new(),
            }),
            vec![scan],
        );
        let second = builder.add(
            Box::new(Recorder {
                schema: schema(),
                seen: Vec::new(),
            }),
            vec![first],
        );
        let mut dataflow = builder.build(second).unwrap();
        dataflow.parallelize(partitions).unwrap();
        dataflow
    }

    fn values(changes: &ChangeBatch) -> Vec<i64> {
        let column = changes.data.column(0);
        let values = column.as_any().downcast_ref::<Int64Array>().unwrap();
        values.values().to_vec()
    }

    #[test]
    fn parallel_steps_give_the_sequential_order_and_survive_errors_and_panics() {
        let input: Vec<i64> = (0..2000).filter(|v| *v != 7 && *v != 13).collect();
        let mut sequential = dataflow(1);
        let expected = values(&sequential.push("t", &batch(input.clone())).unwrap());
        let mut sorted = expected.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, input);
        for partitions in [2, 3, 4] {
            let mut parallel = dataflow(partitions);
            for _ in 0..20 {
                // The same rows in the same order per run: workers' timing does not matter.
                let got = values(&parallel.push("t", &batch(input.clone())).unwrap());
                let mut got_sorted = got.clone();
                got_sorted.sort_unstable();
                assert_eq!(got_sorted, input, "{partitions} partitions");
                let again = values(
                    &dataflow(partitions)
                        .push("t", &batch(input.clone()))
                        .unwrap(),
                );
                assert_eq!(got, again, "{partitions} partitions");
            }
            // An error in one instance fails the step (no worker waits forever) ...
            let error = parallel.push("t", &batch([1, 2, 7, 9])).err().unwrap();
            assert!(error.to_string().contains("seven"), "{error}");
            let error = parallel.push("t", &batch([3, 13, 5])).err().unwrap();
            assert!(error.to_string().contains("panicked"), "{error}");
            // ... and the dataflow keeps running.
            let after = values(&parallel.push("t", &batch([4, 5, 6])).unwrap());
            let mut after_sorted = after.clone();
            after_sorted.sort_unstable();
            assert_eq!(after_sorted, vec![4, 5, 6]);
            assert_eq!(parallel.partitions(), partitions);
        }
    }
}

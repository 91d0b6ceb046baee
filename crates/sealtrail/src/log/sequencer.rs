//! The sequencer: one thread that owns all writes and commits them in
//! groups.
//!
//! Requests queue on a channel; the thread takes everything waiting, runs
//! it in one transaction, commits it with one fsync, and only then answers
//! each request. So concurrent requests share a commit, every answer means
//! "durable", and a failed commit answers every waiting request with the
//! error and leaves no trace in memory.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sealtrail_model::{ActivityInput, TypeDef};
use sealtrail_tlog::leaf_hash;
use tokio::sync::{oneshot, watch};

use super::TILE_HEIGHT;
use super::prepare::{PreparedEvent, finish_entry, prepare};
use crate::ids::ActivityId;
use crate::metrics::Metrics;
use crate::privacy::crypto::{self, MasterKey, SecretKey};
use crate::privacy::split;
use crate::registry::Registry;
use crate::storage::{
    Change, LogHead, NewEvent, Org, OrgKey, Storage, StoreError, StoreResult, SubjectKeyRecord, Txn,
};
use crate::time::now_ms;

/// Called once the transaction a job ran in has committed (or failed).
pub type Completion = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// A unit of work for the sequencer; returns what to do after the commit.
pub type Job = Box<dyn FnOnce(&mut Batch<'_>) -> Completion + Send>;

/// Where an appended event landed.
#[derive(Clone, Debug, PartialEq)]
pub struct Appended {
    /// The activity id.
    pub id: String,
    /// Position in its organization's log.
    pub seq: u64,
    /// Global commit sequence.
    pub gseq: u64,
}

/// What the writer keeps between batches: caches that are only updated
/// after a successful commit.
struct State {
    keys: HashMap<(OrgKey, Vec<u8>), SecretKey>,
    last_ms: i64,
}

/// The view a job has of the open transaction.
pub struct Batch<'a> {
    txn: &'a mut dyn Txn,
    state: &'a State,
    master: &'a MasterKey,
    registry: &'a RwLock<Registry>,
    heads: HashMap<OrgKey, LogHead>,
    new_keys: Vec<((OrgKey, Vec<u8>), SecretKey)>,
    dropped_keys: Vec<(OrgKey, Vec<u8>)>,
    org_updates: Vec<Org>,
    last_ms: i64,
    appended: u64,
    last_gseq: Option<u64>,
    failed: Option<String>,
}

impl Batch<'_> {
    /// The transaction, for jobs that write more than events.
    pub fn txn(&mut self) -> &mut dyn Txn {
        self.txn
    }

    /// The organization registry as of the last commit.
    pub fn org(&self, id: &str) -> Option<Org> {
        self.registry.read().ok()?.by_id(id).cloned()
    }

    /// The organization, seeing changes made earlier in this batch.
    pub fn org_now(&self, key: OrgKey) -> Option<Org> {
        if let Some(o) = self.org_updates.iter().rev().find(|o| o.key == key) {
            return Some(o.clone());
        }
        self.registry.read().ok()?.by_key(key).cloned()
    }

    /// Records an organization change, applied to the registry on commit.
    pub fn update_org(&mut self, org: Org) -> StoreResult<()> {
        let before = self.org_now(org.key);
        self.txn.update_org(&org)?;
        if before.is_some_and(|b| b.tree != org.tree) {
            self.txn.set_events_tree(org.key, org.tree)?;
        }
        self.org_updates.push(org);
        Ok(())
    }

    /// Creates an organization.
    pub fn insert_org(&mut self, mut org: Org) -> StoreResult<Org> {
        let key = self.txn.insert_org(&org)?;
        org.key = key;
        if org.tree == 0 {
            org.tree = key;
        }
        self.org_updates.push(org.clone());
        Ok(org)
    }

    /// Forgets a subject key (erasure): the cache drops it on commit.
    pub fn drop_subject_key(&mut self, org: OrgKey, subject: Vec<u8>) {
        self.dropped_keys.push((org, subject));
    }

    fn subject_key(&mut self, org: &Org, sref: &[u8]) -> StoreResult<SecretKey> {
        let cache_key = (org.key, sref.to_vec());
        if let Some(k) = self.state.keys.get(&cache_key) {
            return Ok(*k);
        }
        if let Some((_, k)) = self.new_keys.iter().find(|(ck, _)| *ck == cache_key) {
            return Ok(*k);
        }
        if let Some(rec) = self.txn.subject_key(org.key, sref)?
            && let Some(w) = &rec.wrapped
        {
            let k = self
                .master
                .unwrap_key(sref, w)
                .map_err(|e| StoreError::Corrupt(format!("subject key: {e}")))?;
            self.new_keys.push((cache_key, k));
            return Ok(k);
        }
        let k = crypto::new_key();
        self.txn.put_subject_key(&SubjectKeyRecord {
            org: org.key,
            subject: sref.to_vec(),
            wrapped: Some(self.master.wrap(sref, &k)),
            created_ms: now_ms(),
            erased_ms: None,
        })?;
        self.new_keys.push((cache_key, k));
        Ok(k)
    }

    /// Appends an event to an organization's log. The caller has checked
    /// that recording is enabled and that the source may write here.
    pub fn append(
        &mut self,
        org: &Org,
        input: &ActivityInput,
        def: &TypeDef,
        product: Option<&str>,
    ) -> StoreResult<Appended> {
        // Sealtrail's own events are few: the stored form is made here.
        let p = prepare(input, def, org, product, self.master, true);
        self.append_prepared(org, p)
    }

    /// Appends an event prepared off this thread. A storage failure here
    /// fails the job (its savepoint is rolled back), so a half-written
    /// event can never be committed. The event is taken by value: its
    /// fields move into the stored row, with no copy on this thread.
    pub fn append_prepared(&mut self, org: &Org, p: PreparedEvent) -> StoreResult<Appended> {
        let r = self.append_inner(org, p);
        if let Err(e) = &r {
            self.fail(e);
        }
        r
    }

    /// Marks the current job failed: its writes are rolled back to its
    /// savepoint when it returns. The job must report the error through its
    /// own output, since its completion is not told.
    pub fn fail(&mut self, e: &StoreError) {
        if self.failed.is_none() {
            self.failed = Some(e.to_string());
        }
    }

    fn append_inner(&mut self, org: &Org, p: PreparedEvent) -> StoreResult<Appended> {
        let mut head = match self.heads.remove(&org.key) {
            Some(h) => h,
            None => self.txn.log_head(org.key)?,
        };
        let gseq = self.txn.next_gseq()?;
        let ms = now_ms().max(self.last_ms);
        self.last_ms = ms;
        let id = ActivityId::new(ms as u64, gseq).to_string();
        let seq = head.frontier.size();

        let mut envelopes = Vec::with_capacity(p.openings.len());
        let mut subjects = Vec::with_capacity(p.openings.len());
        for so in p.openings {
            let key = self.subject_key(org, &so.sref)?;
            envelopes.push(split::seal_plaintext(&key, &so.sref, &so.plaintext));
            subjects.push(so.sref);
        }
        let entry = finish_entry(&p.parts, &id, ms, seq);
        let leaf = leaf_hash(&entry);
        let mut nodes = Vec::new();
        head.frontier
            .push(leaf, |level, index, hash| {
                if level % TILE_HEIGHT == 0 {
                    nodes.push((level, index, *hash));
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("log head of {}: {e}", org.id)))?;
        let ev = NewEvent {
            gseq,
            tree: org.tree,
            org: org.key,
            seq,
            activity_type: p.activity_type,
            category: p.category,
            product: p.product,
            created_ms: p.created_ms,
            received_ms: ms,
            actor_id: p.actor_id,
            actor_email_bi: p.actor_email_bi,
            ip_bi: p.ip_bi,
            api_key_id: p.api_key_id,
            target_id: p.target_id,
            outcome: p.outcome,
            source_event_id: p.source_event_id,
            entry,
            stored_entry: p.stored,
            leaf,
            pii: split::encode_envelopes(&envelopes),
            subjects,
        };
        self.txn.insert_event(&ev)?;
        for (level, index, hash) in nodes {
            self.txn.insert_node(org.key, level, index, &hash)?;
        }
        self.heads.insert(org.key, head);
        self.appended += 1;
        self.last_gseq = Some(gseq);
        Ok(Appended { id, seq, gseq })
    }
}

/// A handle to the sequencer thread.
#[derive(Clone)]
pub struct Sequencer {
    tx: Sender<Job>,
    committed: watch::Receiver<u64>,
}

impl Sequencer {
    /// Starts the writer thread.
    pub fn start(
        store: Arc<dyn Storage>,
        master: MasterKey,
        registry: Arc<RwLock<Registry>>,
        metrics: Arc<Metrics>,
        max_batch_events: usize,
    ) -> StoreResult<Sequencer> {
        let start_gseq = store.max_gseq()?;
        let (tx, rx) = mpsc::channel::<Job>();
        let (wtx, wrx) = watch::channel(start_gseq);
        let wtx = Arc::new(wtx);
        if store.shared() {
            follow_other_nodes(&store, &registry, &wtx);
        }
        std::thread::Builder::new()
            .name("sealtrail-sequencer".into())
            .spawn(move || run(rx, store, master, registry, metrics, wtx, max_batch_events))
            .map_err(|e| StoreError::Engine(format!("cannot start sequencer: {e}")))?;
        Ok(Sequencer { tx, committed: wrx })
    }

    /// Queues a job; the returned receiver yields once it is durable.
    pub fn submit<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Batch<'_>) -> T + Send + 'static,
    ) -> oneshot::Receiver<Result<T, StoreError>> {
        let (rtx, rrx) = oneshot::channel();
        let wrapped: Job = Box::new(move |b: &mut Batch<'_>| {
            let out = job(b);
            Box::new(move |res: Result<(), &StoreError>| {
                let msg = match res {
                    Ok(()) => Ok(out),
                    Err(e) => Err(StoreError::Engine(format!("commit failed: {e}"))),
                };
                let _ = rtx.send(msg);
            }) as Completion
        });
        if self.tx.send(wrapped).is_err() {
            // The receiver was dropped with the job: the caller sees a closed
            // channel and reports the server as unavailable.
        }
        rrx
    }

    /// Runs a job whose error undoes all its writes (its savepoint is
    /// rolled back), and waits until the rest is durable.
    pub async fn run_atomic<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(move |b| {
            let r = job(b);
            if let Err(e) = &r {
                b.fail(e);
            }
            r
        })
        .await?
    }

    /// Runs a job and waits until it is durable.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Batch<'_>) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        match self.submit(job).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable(
                "the sequencer has stopped (shutting down)".into(),
            )),
        }
    }

    /// Waits until every job queued before this call is durable (jobs
    /// commit in the order they were queued). Shutdown calls it so that
    /// records queued by the last requests are written before it returns.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.run(|_| ()).await
    }

    /// The highest committed global sequence; changes after every commit.
    pub fn committed(&self) -> watch::Receiver<u64> {
        self.committed.clone()
    }
}

/// Raises the committed sequence to `g` (never lowers it: notices from
/// other nodes and this node's own commits arrive in any order).
fn raise(committed: &watch::Sender<u64>, g: u64) {
    committed.send_if_modified(|v| {
        if g > *v {
            *v = g;
            true
        } else {
            false
        }
    });
}

/// On a store that several nodes share, other nodes' commits must wake this
/// node's live streams, and their organization changes must reach this
/// node's directory.
fn follow_other_nodes(
    store: &Arc<dyn Storage>,
    registry: &Arc<RwLock<Registry>>,
    committed: &Arc<watch::Sender<u64>>,
) {
    // Weak: the store keeps its listeners, which must not keep it alive.
    let weak = Arc::downgrade(store);
    let registry = registry.clone();
    let committed = committed.clone();
    store.subscribe(Arc::new(move |change| match change {
        Change::Committed(g) => raise(&committed, g),
        Change::Orgs => {
            let Some(store) = weak.upgrade() else {
                return;
            };
            match store.orgs() {
                Ok(orgs) => {
                    if let Ok(mut reg) = registry.write() {
                        *reg = Registry::new(orgs);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot reload organizations"),
            }
        }
        // Read caches follow these (`cache::follow`).
        Change::Keys | Change::Subjects | Change::Resync | Change::Lost => {}
    }));
}

fn run(
    rx: Receiver<Job>,
    store: Arc<dyn Storage>,
    master: MasterKey,
    registry: Arc<RwLock<Registry>>,
    metrics: Arc<Metrics>,
    committed: Arc<watch::Sender<u64>>,
    max_batch_jobs: usize,
) {
    let mut state = State {
        keys: HashMap::new(),
        last_ms: 0,
    };
    let shared = store.shared();
    loop {
        let first = match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(j) => j,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut jobs = vec![first];
        while jobs.len() < max_batch_jobs {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        if shared {
            // Another node may have erased (or created) a subject key since
            // the last batch; inside a batch the store's write lock keeps
            // the keys this batch reads current.
            state.keys.clear();
        }
        let started = Instant::now();
        let mut completions: Vec<Completion> = Vec::with_capacity(jobs.len());
        type Outcome = (
            i64,
            u64,
            Option<u64>,
            Vec<((OrgKey, Vec<u8>), SecretKey)>,
            Vec<(OrgKey, Vec<u8>)>,
            Vec<Org>,
        );
        let mut outcome: Option<Outcome> = None;
        let mut jobs_iter = Some(jobs);
        let res = store.write(&mut |txn: &mut dyn Txn| {
            let floor_ms = txn.floor_ms()?;
            let mut batch = Batch {
                txn,
                state: &state,
                master: &master,
                registry: &registry,
                heads: HashMap::new(),
                new_keys: Vec::new(),
                dropped_keys: Vec::new(),
                org_updates: Vec::new(),
                last_ms: state.last_ms.max(floor_ms),
                appended: 0,
                last_gseq: None,
                failed: None,
            };
            for job in jobs_iter.take().unwrap_or_default() {
                // Each job runs inside a savepoint: a job that fails is undone
                // alone (in storage and in the batch's memory) and told why;
                // the others still commit.
                let snap = (
                    batch.heads.clone(),
                    batch.new_keys.len(),
                    batch.dropped_keys.len(),
                    batch.org_updates.len(),
                    batch.appended,
                    batch.last_gseq,
                );
                batch.txn.savepoint()?;
                let c = job(&mut batch);
                match batch.failed.take() {
                    None => {
                        batch.txn.release_savepoint()?;
                        completions.push(c);
                    }
                    Some(why) => {
                        batch.txn.rollback_savepoint()?;
                        batch.heads = snap.0;
                        batch.new_keys.truncate(snap.1);
                        batch.dropped_keys.truncate(snap.2);
                        batch.org_updates.truncate(snap.3);
                        batch.appended = snap.4;
                        batch.last_gseq = snap.5;
                        // The job reports its own error through its output;
                        // its writes are gone whatever the commit does.
                        tracing::debug!(reason = %why, "a job was rolled back to its savepoint");
                        completions.push(Box::new(move |_res: Result<(), &StoreError>| c(Ok(()))));
                    }
                }
            }
            let heads: Vec<LogHead> = batch.heads.drain().map(|(_, h)| h).collect();
            for h in &heads {
                batch.txn.set_log_head(h)?;
            }
            outcome = Some((
                batch.last_ms,
                batch.appended,
                batch.last_gseq,
                std::mem::take(&mut batch.new_keys),
                std::mem::take(&mut batch.dropped_keys),
                std::mem::take(&mut batch.org_updates),
            ));
            Ok(())
        });
        match &res {
            Ok(()) => {
                if let Some((last_ms, appended, last_gseq, new_keys, dropped, orgs)) =
                    outcome.take()
                {
                    if let Some(g) = last_gseq {
                        raise(&committed, g);
                    }
                    state.last_ms = last_ms;
                    for (k, v) in new_keys {
                        state.keys.insert(k, v);
                    }
                    for k in dropped {
                        state.keys.remove(&k);
                    }
                    if !orgs.is_empty()
                        && let Ok(mut reg) = registry.write()
                    {
                        for o in orgs {
                            reg.upsert(o);
                        }
                    }
                    metrics.record_commit(appended, started.elapsed());
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed; every request in it is answered with the error");
                metrics.commit_failures.inc();
            }
        }
        for c in completions {
            c(res.as_ref().map(|_| ()));
        }
    }
    tracing::info!("sequencer stopped");
}

//! The kubelets: image pulls (Spark images come from the private registry and are cached per
//! node; platform images are preloaded, except a new version's after an upgrade, pulled from its
//! public registry), container start, process start and exit, graceful
//! stop, container restarts with CrashLoopBackOff for restartPolicy Always, and the resync of a
//! node's pods when it comes back. Backoffs follow reference/kube-scheduler.md §6.2 (10 s
//! doubling to 300 s). A kubelet that cannot reach the API server (machine down or partitioned)
//! neither starts pods nor reports their status.
//!
//! Inputs: its own [`Ev`]s (every container timer is armed under [`Key::Container`], so a
//! container that restarts or stops drops its stale timers); [`Kubelet::pod_bound`],
//! [`Kubelet::node_added`], [`Kubelet::node_down`], [`Kubelet::resync`]. Outputs: pod phases
//! through the API, `pod_waiting`/`pod_running` trace events, and [`Signal::ComponentStarted`],
//! [`Signal::ProcessUp`], [`Signal::PodChanged`].

use std::collections::BTreeMap;

use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::Event;

use crate::api::{Cx, Key, Signal, controller};
use crate::intern::Sym;
use crate::store::{Owner, Phase, PodId, Store};
use crate::timings::Timings;

/// The kubelets' timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// An image pull on a node finished.
    PullDone {
        /// Node.
        node: usize,
        /// Image.
        image: Sym,
    },
    /// Retry a failed pull.
    PullRetry {
        /// Pod.
        pod: PodId,
    },
    /// The container started.
    ContainerStarted {
        /// Pod.
        pod: PodId,
    },
    /// The JVM in it is up (Spark pods).
    ProcessUp {
        /// Pod.
        pod: PodId,
    },
    /// The main container exited.
    ContainerExit {
        /// Pod.
        pod: PodId,
        /// Exit code.
        code: i32,
        /// Reason.
        reason: &'static str,
        /// What the program said.
        message: String,
    },
    /// A gracefully deleted pod's containers stopped.
    PodStopped {
        /// Pod.
        pod: PodId,
    },
    /// CrashLoopBackOff is over: start the container again.
    ComponentRestart {
        /// Pod.
        pod: PodId,
    },
}

/// What one node's kubelet holds.
#[derive(Debug, Clone, Default)]
struct NodeCache {
    /// Images present.
    images: Vec<Sym>,
    /// Pulls in flight: image → pods waiting for it.
    pulling: BTreeMap<Sym, Vec<PodId>>,
}

/// Every node's kubelet.
#[derive(Debug, Default)]
pub struct Kubelet {
    nodes: Vec<NodeCache>,
}

controller!(Kubelet, Ev, Kubelet);

/// How long a deleted running pod's containers take to stop: a decommissioning executor
/// finishes its running tasks (checking every second) within the 30 s grace period
/// (`spark.kubernetes.executor.terminationGracePeriodSeconds`, reference/spark-on-kubernetes.md
/// §3.7); anything else exits on SIGTERM.
pub fn stop_delay(store: &Store, t: &Timings, id: PodId, now: Time) -> Dur {
    /// `spark.kubernetes.executor.terminationGracePeriodSeconds` = 30 s (4.1+; pod default before).
    const DECOMMISSION_GRACE: Dur = Dur::secs(30);
    match store.pod(id).map(|p| p.process) {
        Some(pr) if pr.decommissions => (pr.busy_until.unwrap_or(now) - now + Dur::secs(1)).min(DECOMMISSION_GRACE),
        _ => t.pod_stop,
    }
}

impl Kubelet {
    /// Handles one of its timers.
    pub fn handle(cx: &mut impl Cx<Kubelet>, ev: Ev) {
        match ev {
            Ev::PullDone { node, image } => Self::pull_done(cx, node, image),
            Ev::PullRetry { pod } => Self::pod_bound(cx, pod),
            Ev::ContainerStarted { pod } => Self::container_started(cx, pod),
            Ev::ProcessUp { pod } => Self::process_up(cx, pod),
            Ev::ContainerExit { pod, code, reason, message } => Self::container_exit(cx, pod, code, reason, message),
            Ev::PodStopped { pod } => Self::pod_stopped(cx, pod),
            Ev::ComponentRestart { pod } => Self::component_restart(cx, pod),
        }
    }

    /// A node registered: its kubelet starts with an empty image cache.
    pub fn node_added(cx: &mut impl Cx<Kubelet>, n: usize) {
        let nodes = &mut cx.me().nodes;
        if nodes.len() <= n {
            nodes.resize_with(n + 1, NodeCache::default);
        }
    }

    /// A pod was bound to a node: pull its image if needed, then start the container.
    pub fn pod_bound(cx: &mut impl Cx<Kubelet>, id: PodId) {
        let store = cx.store();
        let Some(p) = store.pod(id) else { return };
        let Some(n) = p.node else { return };
        if !store.node_reachable(n) || p.deleting.is_some() || p.phase != Phase::Pending {
            return;
        }
        let (image, from_registry, public_image) = (p.image, p.from_registry, p.public_image);
        if !(from_registry || public_image) || cx.me_ref().nodes[n].images.contains(&image) {
            let start = if cx.store().bootstrapping { Dur::ZERO } else { cx.timings().container_start };
            cx.at_keyed(Key::Container(id), start, Ev::ContainerStarted { pod: id });
            return;
        }
        // A public image (ghcr.io, registry.k8s.io) does not need the private registry.
        if from_registry && !cx.store().registry_serving() {
            Self::pull_failed(cx, id, "dial tcp: connect: connection refused (registry unreachable)");
            return;
        }
        let node = &mut cx.me().nodes[n];
        match node.pulling.get_mut(&image) {
            Some(waiters) => waiters.push(id),
            None => {
                node.pulling.insert(image, vec![id]);
                let pull = cx.timings().image_pull;
                cx.at(pull, Ev::PullDone { node: n, image });
            }
        }
    }

    fn pull_done(cx: &mut impl Cx<Kubelet>, n: usize, image: Sym) {
        let waiters = cx.me().nodes[n].pulling.remove(&image).unwrap_or_default();
        if !cx.store().node_reachable(n) {
            return;
        }
        let private = waiters.iter().any(|id| cx.store().pod(*id).is_some_and(|p| p.from_registry));
        if private && !cx.store().registry_serving() {
            for id in waiters {
                Self::pull_failed(cx, id, "connection reset by peer (registry went away during the pull)");
            }
            return;
        }
        cx.me().nodes[n].images.push(image);
        let start = cx.timings().container_start;
        for id in waiters {
            if cx.store().pod(id).is_some_and(|p| p.deleting.is_none() && p.phase == Phase::Pending) {
                cx.at_keyed(Key::Container(id), start, Ev::ContainerStarted { pod: id });
            }
        }
    }

    fn pull_failed(cx: &mut impl Cx<Kubelet>, id: PodId, why: &str) {
        let (initial, max) = (cx.timings().kubelet_backoff_initial.as_ms(), cx.timings().kubelet_backoff_max.as_ms());
        let store = cx.store_mut();
        let image = store.pod(id).map(|p| store.interner.resolve(p.image).to_string()).unwrap_or_default();
        let Some(p) = store.pod_mut(id) else { return };
        p.pull_failures += 1;
        let backoff = Dur::ms(initial.saturating_mul(1 << (p.pull_failures - 1).min(10)).min(max));
        let reason = if p.pull_failures == 1 { "ErrImagePull" } else { "ImagePullBackOff" };
        let key = p.key.clone();
        cx.emit(Event::PodWaiting {
            pod: key,
            reason: reason.into(),
            message: format!("failed to pull image \"{image}\": {why}; back-off {backoff}"),
        });
        cx.at_keyed(Key::Container(id), backoff, Ev::PullRetry { pod: id });
    }

    fn container_started(cx: &mut impl Cx<Kubelet>, id: PodId) {
        let now = cx.now();
        let store = cx.store();
        let Some(p) = store.pod(id) else { return };
        let Some(n) = p.node else { return };
        if p.deleting.is_some() || p.phase != Phase::Pending || !store.node_reachable(n) {
            return;
        }
        cx.cancel(Key::Container(id));
        let p = cx.store_mut().pod_mut(id).expect("checked");
        p.phase = Phase::Running;
        p.started = Some(now);
        let (key, owner) = (p.key.clone(), p.owner);
        cx.emit(Event::PodRunning { pod: key });
        match owner {
            Owner::Driver { .. } | Owner::Executor { .. } => {
                let jvm = cx.timings().jvm_start;
                cx.at_keyed(Key::Container(id), jvm, Ev::ProcessUp { pod: id });
            }
            Owner::Component(_) => cx.signal(Signal::ComponentStarted(id)),
        }
        cx.signal(Signal::PodChanged(id));
    }

    fn process_up(cx: &mut impl Cx<Kubelet>, id: PodId) {
        let store = cx.store();
        let Some(p) = store.pod(id) else { return };
        if p.phase != Phase::Running || p.node.is_none_or(|n| !store.node_state[n].machine_up) {
            return;
        }
        if !matches!(p.owner, Owner::Component(_)) {
            cx.signal(Signal::ProcessUp(id));
        }
    }

    /// The main container exited. On a partitioned node the exit is reported on reconnect; on a
    /// dead machine the process is already gone.
    fn container_exit(cx: &mut impl Cx<Kubelet>, id: PodId, code: i32, reason: &'static str, message: String) {
        let store = cx.store();
        let Some(p) = store.pod(id) else { return };
        let Some(n) = p.node else { return };
        if p.phase != Phase::Running || !store.node_state[n].machine_up {
            return;
        }
        if !store.node_state[n].connected {
            cx.store_mut().pod_mut(id).expect("checked").pending_exit = Some((code, reason, message));
            return;
        }
        match p.owner {
            Owner::Component(_) => Self::crash_component(cx, id, code, message),
            _ => cx.terminate(id, code, reason, message),
        }
    }

    /// A gracefully deleted pod's containers stopped (SIGTERM handled): the object goes away.
    fn pod_stopped(cx: &mut impl Cx<Kubelet>, id: PodId) {
        let Some(p) = cx.store().pod(id) else { return };
        if p.deleting.is_none() {
            return;
        }
        if p.phase == Phase::Running {
            let (code, reason, message) = if p.process.decommissions && p.process.busy_until.is_none() {
                (0, "Completed", "executor decommissioned: finished its running tasks and exited".to_string())
            } else {
                (143, "Error", "container terminated on pod deletion (SIGTERM)".to_string())
            };
            cx.terminate(id, code, reason, message);
        }
        cx.remove_pod(id, "deleted");
    }

    /// restartPolicy Always: the container restarts after the kubelet's backoff
    /// (CrashLoopBackOff: 10 s doubling to 300 s).
    fn crash_component(cx: &mut impl Cx<Kubelet>, id: PodId, code: i32, message: String) {
        let (initial, max) = (cx.timings().kubelet_backoff_initial.as_ms(), cx.timings().kubelet_backoff_max.as_ms());
        cx.cancel(Key::Container(id));
        let Some(p) = cx.store_mut().pod_mut(id) else { return };
        p.phase = Phase::Pending;
        p.restarts += 1;
        let backoff = Dur::ms(initial.saturating_mul(1 << (p.restarts - 1).min(10)).min(max));
        let key = p.key.clone();
        cx.emit(Event::PodWaiting {
            pod: key,
            reason: "CrashLoopBackOff".into(),
            message: format!("container exited {code}: {message}; back-off {backoff} restarting failed container"),
        });
        cx.at_keyed(Key::Container(id), backoff, Ev::ComponentRestart { pod: id });
        cx.signal(Signal::PodChanged(id));
    }

    fn component_restart(cx: &mut impl Cx<Kubelet>, id: PodId) {
        if cx.store().pod(id).is_some_and(|p| p.deleting.is_none()) {
            let start = cx.timings().container_start;
            cx.at_keyed(Key::Container(id), start, Ev::ContainerStarted { pod: id });
        }
    }

    /// The node's kubelet went away with its machine or network: pulls in flight are lost.
    pub fn node_down(cx: &mut impl Cx<Kubelet>, n: usize) {
        let pulling = std::mem::take(&mut cx.me().nodes[n].pulling);
        for p in pulling.values().flatten() {
            cx.cancel(Key::Container(*p));
        }
    }

    /// The node is back: the kubelet resyncs its pods — confirms deletions the API server asked
    /// for while it was away, reports containers that died with the machine or exited while it
    /// was cut off, restarts platform containers, and starts pods bound meanwhile.
    pub fn resync(cx: &mut impl Cx<Kubelet>, n: usize, machine_lost: bool) {
        for id in cx.store().node_state[n].pods.clone() {
            let Some(p) = cx.store().pod(id) else { continue };
            let (deleting, phase, owner, pending_exit, bound) = (p.deleting.is_some(), p.phase, p.owner, p.pending_exit.clone(), p.bound);
            if deleting {
                if phase == Phase::Running {
                    cx.terminate(id, 137, "Error", "container killed: the pod was deleted while its node was away".into());
                }
                cx.remove_pod(id, "deleted (node back)");
            } else if machine_lost && phase == Phase::Running {
                match owner {
                    Owner::Component(_) => Self::restart_after_machine_loss(cx, id),
                    _ => {
                        let name = cx.store().nodes[n].name.clone();
                        cx.terminate(id, 137, "Error", format!("container killed when node {name} went down"));
                    }
                }
            } else if let Some((code, reason, message)) = pending_exit {
                cx.store_mut().pod_mut(id).expect("exists").pending_exit = None;
                cx.terminate(id, code, reason, message);
            } else if phase == Phase::Pending && bound {
                Self::pod_bound(cx, id);
            }
        }
    }

    /// Restarts the containers of a pod whose machine came back (restartPolicy Always).
    fn restart_after_machine_loss(cx: &mut impl Cx<Kubelet>, id: PodId) {
        cx.cancel(Key::Container(id));
        let Some(p) = cx.store_mut().pod_mut(id) else { return };
        p.phase = Phase::Pending;
        let start = cx.timings().container_start;
        cx.at_keyed(Key::Container(id), start, Ev::ContainerStarted { pod: id });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Ev as AnyEv;
    use crate::store::Kind;
    use crate::testing::{Fake, nodes, pod, run_on, scenario, serving};

    fn bound(f: &mut Fake<Kubelet>, name: &str, n: usize, from_registry: bool) -> PodId {
        let id = pod(f, name, 500, from_registry);
        let p = f.store.pod_mut(id).unwrap();
        p.node = Some(n);
        p.bound = true;
        f.store.node_state[n].pods.push(id);
        id
    }

    fn fake() -> (Fake<Kubelet>, usize) {
        let plan = scenario("smoke.yaml");
        let mut f = Fake::new(Kubelet::default(), &plan);
        let n = nodes(&mut f, "spark-executor", 1)[0];
        Kubelet::node_added(&mut f, n);
        f.clear();
        (f, n)
    }

    #[test]
    fn pods_share_one_pull_per_node_then_start_a_second_after_it_and_the_cache_skips_the_next_pull() {
        let (mut f, n) = fake();
        let a = bound(&mut f, "a", n, true);
        let b = bound(&mut f, "b", n, true);
        Kubelet::pod_bound(&mut f, a);
        Kubelet::pod_bound(&mut f, b);
        let image = f.store.pod(a).unwrap().image;
        // One pull of 20 s (the image_pull default) serves both pods.
        assert_eq!(f.timers(), [(20_000, AnyEv::Kubelet(Ev::PullDone { node: n, image }))]);
        f.clear();
        f.now = Time(20_000);
        Kubelet::handle(&mut f, Ev::PullDone { node: n, image });
        assert_eq!(
            f.timers(),
            [(21_000, AnyEv::Kubelet(Ev::ContainerStarted { pod: a })), (21_000, AnyEv::Kubelet(Ev::ContainerStarted { pod: b }))]
        );
        assert!(f.armed.iter().all(|(_, k, _)| matches!(k, Some(Key::Container(_)))), "container timers are cancellable");
        f.clear();
        let c = bound(&mut f, "c", n, true);
        Kubelet::pod_bound(&mut f, c);
        assert_eq!(f.timers(), [(21_000, AnyEv::Kubelet(Ev::ContainerStarted { pod: c }))], "cached: no second pull");
        f.clear();
        f.now = Time(21_000);
        Kubelet::handle(&mut f, Ev::ContainerStarted { pod: a });
        assert_eq!(f.trace(), ["pod_running default/a"]);
        assert_eq!(f.store.pod(a).unwrap().phase, Phase::Running);
        assert_eq!(f.cancelled, [Key::Container(a)], "a started container drops its stale timers");
        assert_eq!(f.signals, [Signal::ComponentStarted(a), Signal::PodChanged(a)]);
    }

    #[test]
    fn an_unreachable_registry_fails_the_pull_then_backs_off_10s_doubling() {
        let (mut f, n) = fake();
        let reg = serving(&mut f, Kind::Registry, n);
        f.store.pod_mut(reg).unwrap().phase = Phase::Pending;
        assert!(!f.store.registry_serving());
        let a = bound(&mut f, "a", n, true);
        f.clear();
        Kubelet::pod_bound(&mut f, a);
        assert_eq!(f.timers(), [(10_000, AnyEv::Kubelet(Ev::PullRetry { pod: a }))]);
        let Event::PodWaiting { reason, message, .. } = &f.emitted[0] else { panic!() };
        assert_eq!(reason, "ErrImagePull");
        assert!(message.contains("(registry unreachable); back-off 10s"), "{message}");
        f.clear();
        f.now = Time(10_000);
        Kubelet::handle(&mut f, Ev::PullRetry { pod: a });
        let Event::PodWaiting { reason, .. } = &f.emitted[0] else { panic!() };
        assert_eq!(reason, "ImagePullBackOff");
        assert_eq!(f.timers(), [(30_000, AnyEv::Kubelet(Ev::PullRetry { pod: a }))], "10 s then 20 s");
    }

    #[test]
    fn a_deleted_executor_that_decommissions_exits_0_after_its_last_task_and_others_exit_143() {
        let (mut f, n) = fake();
        let t = f.t.clone();
        for (name, busy, code) in [("idle", None, 0), ("busy", Some(Time(7_000)), 143)] {
            let id = pod(&mut f, name, 500, false);
            run_on(&mut f, id, n);
            f.store.pod_mut(id).unwrap().process = crate::store::Process { decommissions: true, busy_until: busy };
            // Grace: until the last task ends, checked every second, at most 30 s.
            let expected = busy.map_or(Dur::secs(1), |b| b - f.now + Dur::secs(1));
            assert_eq!(stop_delay(&f.store, &t, id, f.now), expected);
            f.store.pod_mut(id).unwrap().deleting = Some(f.now);
            f.clear();
            Kubelet::handle(&mut f, Ev::PodStopped { pod: id });
            let Event::PodTerminated { exit_code, .. } = &f.emitted[0] else { panic!("{:?}", f.emitted) };
            assert_eq!(*exit_code, Some(code), "{name}");
            assert!(f.store.pod(id).is_none(), "the object is gone");
        }
        let plain = pod(&mut f, "plain", 500, false);
        run_on(&mut f, plain, n);
        assert_eq!(stop_delay(&f.store, &t, plain, f.now), t.pod_stop, "a process that does not decommission stops on SIGTERM");
    }

    #[test]
    fn a_node_that_comes_back_after_losing_its_machine_reports_its_spark_containers_killed() {
        let (mut f, n) = fake();
        let a = bound(&mut f, "a", n, false);
        f.store.pod_mut(a).unwrap().phase = Phase::Running;
        f.store.pod_mut(a).unwrap().owner = crate::store::Owner::Executor { app: crate::store::AppId(0), run: 1, exec: 1 };
        f.clear();
        Kubelet::resync(&mut f, n, true);
        let Event::PodTerminated { exit_code, message, .. } = &f.emitted[0] else { panic!("{:?}", f.emitted) };
        assert_eq!((*exit_code, message.as_str()), (Some(137), "container killed when node spark-executor-1 went down"));
    }
}

//! The kubelet: image pulls (Spark images come from the private registry and are cached per
//! node; platform images are preloaded), container start, process start and exit, graceful
//! stop, and container restarts with CrashLoopBackOff for restartPolicy Always. Backoffs follow
//! reference/kube-scheduler.md §6.2 (10 s doubling to 300 s). A kubelet that cannot reach the
//! API server (machine down or partitioned) neither starts pods nor reports their status.

use sparkrig_model::time::Dur;
use sparkrig_model::trace::Event;

use super::{Ev, Owner, Phase, PodId, Simulation};
use crate::intern::Sym;

impl Simulation {
    /// A pod was bound to a node: pull its image if needed, then start the container.
    pub(crate) fn kubelet_pod_bound(&mut self, id: PodId) {
        let Some(p) = self.pod(id) else { return };
        let Some(n) = p.node else { return };
        if !self.node_reachable(n) || p.deleting.is_some() || p.phase != Phase::Pending {
            return;
        }
        let (image, from_registry, epoch) = (p.image, p.from_registry, p.generation);
        if !from_registry || self.node_rt[n].images.contains(&image) {
            let start = if self.bootstrapping { Dur::ZERO } else { self.t.container_start };
            self.at(start, Ev::ContainerStarted { pod: id, epoch });
            return;
        }
        if !self.registry_serving() {
            self.pull_failed(id, "dial tcp: connect: connection refused (registry unreachable)");
            return;
        }
        let rt = &mut self.node_rt[n];
        match rt.pulling.get_mut(&image) {
            Some(waiters) => waiters.push(id),
            None => {
                rt.pulling.insert(image, vec![id]);
                let pull = self.t.image_pull;
                self.at(pull, Ev::PullDone { node: n, image });
            }
        }
    }

    pub(crate) fn pull_done(&mut self, n: usize, image: Sym) {
        let waiters = self.node_rt[n].pulling.remove(&image).unwrap_or_default();
        if !self.node_reachable(n) {
            return;
        }
        if !self.registry_serving() {
            for id in waiters {
                self.pull_failed(id, "connection reset by peer (registry went away during the pull)");
            }
            return;
        }
        self.node_rt[n].images.push(image);
        let start = self.t.container_start;
        for id in waiters {
            if let Some(p) = self.pod(id).filter(|p| p.deleting.is_none() && p.phase == Phase::Pending) {
                let epoch = p.generation;
                self.at(start, Ev::ContainerStarted { pod: id, epoch });
            }
        }
    }

    fn pull_failed(&mut self, id: PodId, why: &str) {
        let initial = self.t.kubelet_backoff_initial.as_ms();
        let max = self.t.kubelet_backoff_max.as_ms();
        let image = self.pod(id).map(|p| self.interner.resolve(p.image).to_string()).unwrap_or_default();
        let Some(p) = self.pod_mut(id) else { return };
        p.pull_failures += 1;
        let backoff = Dur::ms(initial.saturating_mul(1 << (p.pull_failures - 1).min(10)).min(max));
        let reason = if p.pull_failures == 1 { "ErrImagePull" } else { "ImagePullBackOff" };
        let (key, epoch) = (p.key.clone(), p.generation);
        self.emit(Event::PodWaiting {
            pod: key,
            reason: reason.into(),
            message: format!("failed to pull image \"{image}\": {why}; back-off {backoff}"),
        });
        self.at(backoff, Ev::PullRetry { pod: id, epoch });
    }

    pub(crate) fn pull_retry(&mut self, id: PodId, epoch: u32) {
        if self.pod(id).is_some_and(|p| p.generation == epoch) {
            self.kubelet_pod_bound(id);
        }
    }

    pub(crate) fn container_started(&mut self, id: PodId, epoch: u32) {
        let now = self.now;
        let Some(p) = self.pod(id) else { return };
        let Some(n) = p.node else { return };
        if p.generation != epoch || p.deleting.is_some() || p.phase != Phase::Pending || !self.node_reachable(n) {
            return;
        }
        let p = self.pod_mut(id).expect("checked");
        p.phase = Phase::Running;
        p.generation += 1;
        p.started = Some(now);
        let (key, owner, epoch) = (p.key.clone(), p.owner, p.generation);
        self.emit(Event::PodRunning { pod: key });
        match owner {
            Owner::Driver { .. } | Owner::Executor { .. } => {
                let jvm = self.t.jvm_start;
                self.at(jvm, Ev::ProcessUp { pod: id, epoch });
            }
            Owner::Component(c) => self.component_started(c, id),
        }
        self.pod_phase_changed(id);
    }

    pub(crate) fn process_up(&mut self, id: PodId, epoch: u32) {
        let Some(p) = self.pod(id) else { return };
        if p.generation != epoch || p.phase != Phase::Running || p.node.is_none_or(|n| !self.node_rt[n].machine_up) {
            return;
        }
        match p.owner {
            Owner::Driver { app, run } => self.driver_process_up(app, run),
            Owner::Executor { app, run, exec } => self.executor_process_up(app, run, exec),
            Owner::Component(_) => {}
        }
    }

    /// The main container exited. On a partitioned node the exit is reported on reconnect; on a
    /// dead machine the process is already gone.
    pub(crate) fn container_exit(&mut self, id: PodId, epoch: u32, code: i32, reason: &'static str, message: String) {
        let Some(p) = self.pod(id) else { return };
        let Some(n) = p.node else { return };
        if p.generation != epoch || p.phase != Phase::Running || !self.node_rt[n].machine_up {
            return;
        }
        if !self.node_rt[n].connected {
            self.pod_mut(id).expect("checked").pending_exit = Some((code, reason, message));
            return;
        }
        match p.owner {
            Owner::Component(_) => self.crash_component(id, code, message),
            _ => self.terminate(id, code, reason, message),
        }
    }

    /// A gracefully deleted pod's containers stopped (SIGTERM handled): the object goes away.
    pub(crate) fn pod_stopped(&mut self, id: PodId) {
        let Some(p) = self.pod(id) else { return };
        if p.deleting.is_none() {
            return;
        }
        if p.phase == Phase::Running {
            let (code, reason, message) = self.stop_exit(id);
            self.terminate(id, code, reason, message);
        }
        self.remove_pod(id, "deleted");
    }

    /// How long a deleted pod's containers take to stop.
    pub(crate) fn stop_delay(&self, id: PodId) -> Dur {
        match self.pod(id).map(|p| p.owner) {
            Some(Owner::Executor { app, run, exec }) => self.executor_stop_delay(app, run, exec),
            _ => self.t.pod_stop,
        }
    }

    /// The exit of a container stopped by deletion: 143 (SIGTERM) unless it exits cleanly.
    fn stop_exit(&self, id: PodId) -> (i32, &'static str, String) {
        match self.pod(id).map(|p| p.owner) {
            Some(Owner::Executor { app, run, exec }) if self.executor_decommissioning(app, run, exec) => {
                (0, "Completed", "executor decommissioned: finished its running tasks and exited".into())
            }
            _ => (143, "Error", "container terminated on pod deletion (SIGTERM)".into()),
        }
    }

    /// Schedules the exit of a running container after `after`.
    pub(crate) fn exit_after(&mut self, id: PodId, after: Dur, code: i32, reason: &'static str, message: String) {
        if let Some(epoch) = self.pod(id).map(|p| p.generation) {
            self.at(after, Ev::ContainerExit { pod: id, epoch, code, reason, message });
        }
    }

    /// restartPolicy Always: the container restarts after the kubelet's backoff
    /// (CrashLoopBackOff: 10 s doubling to 300 s).
    fn crash_component(&mut self, id: PodId, code: i32, message: String) {
        let initial = self.t.kubelet_backoff_initial.as_ms();
        let max = self.t.kubelet_backoff_max.as_ms();
        let Some(p) = self.pod_mut(id) else { return };
        p.phase = Phase::Pending;
        p.generation += 1;
        p.restarts += 1;
        let backoff = Dur::ms(initial.saturating_mul(1 << (p.restarts - 1).min(10)).min(max));
        let (key, owner, epoch) = (p.key.clone(), p.owner, p.generation);
        self.emit(Event::PodWaiting {
            pod: key,
            reason: "CrashLoopBackOff".into(),
            message: format!("container exited {code}: {message}; back-off {backoff} restarting failed container"),
        });
        self.at(backoff, Ev::ComponentRestart { pod: id, epoch });
        if let Owner::Component(c) = owner {
            self.component_pod_changed(c);
        }
    }

    pub(crate) fn component_restart(&mut self, id: PodId, epoch: u32) {
        if self.pod(id).is_some_and(|p| p.generation == epoch && p.deleting.is_none()) {
            let start = self.t.container_start;
            self.at(start, Ev::ContainerStarted { pod: id, epoch });
        }
    }

    /// Restarts the containers of a pod whose machine came back (restartPolicy Always).
    pub(crate) fn restart_after_machine_loss(&mut self, id: PodId) {
        let Some(p) = self.pod_mut(id) else { return };
        p.phase = Phase::Pending;
        p.generation += 1;
        let epoch = p.generation;
        let start = self.t.container_start;
        self.at(start, Ev::ContainerStarted { pod: id, epoch });
    }
}

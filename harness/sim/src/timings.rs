//! Every timing constant of the simulator, with its upstream source. Scenario files override
//! the first few under `sim:`.

use sparkrig_model::scenario::SimTimings;
use sparkrig_model::time::Dur;

/// Simulator timings.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// Pulling a Spark image onto a node without it. The python image is ~818 MB compressed
    /// (apache/spark PR #54107); at ~40 MB/s that is ~20 s, in line with the "~30 s cold pull"
    /// prior (reference/spark-on-kubernetes.md §6). Platform images are preloaded.
    pub image_pull: Dur,
    /// Container start once the image is present: "<1 s" (§6 derived model).
    pub container_start: Dur,
    /// JVM start to SparkContext up (driver) or to executor registration: "≈ 2–5 s" (§6).
    pub jvm_start: Dur,
    /// One API call from spark-submit or the driver: "tens to hundreds of ms" (SPARK-55888).
    pub api_call: Dur,
    /// Driver shutdown after the last task (SparkContext.stop, executor deletion).
    pub driver_shutdown: Dur,
    /// Time for a deleted pod's containers to stop on a live kubelet (executors exit on SIGTERM
    /// at once; the grace period, 30 s, is the upper bound).
    pub pod_stop: Dur,
    /// `spark.kubernetes.allocation.batch.delay` = 1 s (unchanged 3.5–4.3, §0).
    pub batch_delay: Dur,
    /// `spark.scheduler.maxRegisteredResourcesWaitingTime` = 30 s (§2.2).
    pub max_registered_wait: Dur,
    /// `spark.scheduler.minRegisteredResourcesRatio` on K8s = 0.8 (§2.2), in percent.
    pub min_registered_percent: u32,
    /// Operator `--driver-pod-creation-grace-period` = 10 s (spark-operator.md §2.3).
    pub driver_pod_creation_grace: Dur,
    /// Workqueue per-item rate limiter base delay, 5 ms (spark-operator.md §2.6).
    pub workqueue_base_delay: Dur,
    /// Workqueue per-item rate limiter cap, 1000 s.
    pub workqueue_max_delay: Dur,
    /// Workqueue bucket: the chart's 50 qps / 500 burst.
    pub workqueue_qps: u32,
    /// Workqueue bucket size.
    pub workqueue_burst: u32,
    /// kube-scheduler `podInitialBackoffSeconds` = 1 (kube-scheduler.md §1.4).
    pub sched_initial_backoff: Dur,
    /// `podMaxBackoffSeconds` = 10.
    pub sched_max_backoff: Dur,
    /// `DefaultPodMaxInUnschedulablePodsDuration` = 5 min (§4.1).
    pub sched_unschedulable_max: Dur,
    /// `flushUnschedulablePodsLeftover` period = 30 s.
    pub sched_leftover_flush: Dur,
    /// Kubelet image pull / crash backoff: 10 s doubling (§6.2).
    pub kubelet_backoff_initial: Dur,
    /// Capped at `MaxContainerBackOff` = 300 s.
    pub kubelet_backoff_max: Dur,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            image_pull: Dur::secs(20),
            container_start: Dur::secs(1),
            jvm_start: Dur::secs(3),
            api_call: Dur::ms(20),
            driver_shutdown: Dur::secs(1),
            pod_stop: Dur::secs(1),
            batch_delay: Dur::secs(1),
            max_registered_wait: Dur::secs(30),
            min_registered_percent: 80,
            driver_pod_creation_grace: Dur::secs(10),
            workqueue_base_delay: Dur::ms(5),
            workqueue_max_delay: Dur::secs(1000),
            workqueue_qps: 50,
            workqueue_burst: 500,
            sched_initial_backoff: Dur::secs(1),
            sched_max_backoff: Dur::secs(10),
            sched_unschedulable_max: Dur::mins(5),
            sched_leftover_flush: Dur::secs(30),
            kubelet_backoff_initial: Dur::secs(10),
            kubelet_backoff_max: Dur::secs(300),
        }
    }
}

impl Timings {
    /// Defaults with a scenario's `sim:` overrides.
    pub fn with_overrides(o: &SimTimings) -> Timings {
        let d = Timings::default();
        Timings {
            image_pull: o.image_pull.unwrap_or(d.image_pull),
            container_start: o.container_start.unwrap_or(d.container_start),
            jvm_start: o.jvm_start.unwrap_or(d.jvm_start),
            api_call: o.api_call.unwrap_or(d.api_call),
            ..d
        }
    }
}

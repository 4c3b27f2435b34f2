/**
 * The names ZooKeeper 3.8 reports in `mntr`, `/commands/monitor` and its Prometheus endpoint, by
 * kind, as a standalone server lists them (captured from Apache ZooKeeper 3.8's monitor command;
 * test/admin compares this table with a running ZooKeeper). One declaration: mntr, the admin
 * API and Prometheus all read it.
 */

/** Values read at the moment of asking (ZooKeeperServer's registered gauges). */
export const ZK_GAUGES = [
  'ephemerals_count', 'num_alive_connections', 'avg_latency', 'outstanding_requests', 'znode_count',
  'global_sessions', 'non_mtls_remote_conn_count', 'last_client_response_size', 'packets_sent',
  'packets_received', 'max_client_response_size', 'connection_drop_probability', 'watch_count',
  'auth_failed_count', 'min_latency', 'max_file_descriptor_count', 'approximate_data_size',
  'open_file_descriptor_count', 'local_sessions', 'uptime', 'max_latency', 'outstanding_tls_handshake',
  'min_client_response_size', 'non_mtls_local_conn_count',
] as const;

/** Counters that only grow (until srst); ServerMetrics' counters. */
export const ZK_COUNTERS = [
  'proposal_count', 'watch_bytes', 'outstanding_changes_removed', 'throttled_ops', 'stale_requests_dropped',
  'large_requests_rejected', 'insecure_admin_count', 'connection_rejected', 'cnxn_closed_without_zk_server_running',
  'sessionless_connections_expired', 'looking_count', 'dead_watchers_queued', 'stale_requests', 'connection_drop_count',
  'learner_proposal_received_count', 'digest_mismatches_count', 'dead_watchers_cleared', 'response_packet_cache_hits',
  'bytes_received_count', 'add_dead_watcher_stall_time', 'request_throttle_wait_count',
  'requests_not_forwarded_to_commit_processor', 'response_packet_cache_misses', 'ensemble_auth_success',
  'prep_processor_request_queued', 'learner_commit_received_count', 'stale_replies', 'connection_request_count',
  'response_bytes', 'ensemble_auth_fail', 'diff_count', 'response_packet_get_children_cache_misses',
  'connection_revalidate_count', 'quit_leading_due_to_disloyal_voter', 'snap_count', 'unrecoverable_error_count',
  'unsuccessful_handshake', 'commit_count', 'stale_sessions_expired', 'response_packet_get_children_cache_hits',
  'sync_processor_request_queued', 'outstanding_changes_queued', 'request_commit_queued', 'ensemble_auth_skip',
  'skip_learner_request_to_next_processor_count', 'tls_handshake_exceeded', 'revalidate_count',
] as const;

/** Summaries reported as avg_, min_, max_, cnt_, sum_ (ZooKeeper's BASIC detail level). */
export const ZK_SUMMARIES = [
  'commit_commit_proc_req_queued', 'commit_process_time', 'concurrent_request_processing_in_commit_processor',
  'connection_token_deficit', 'dbinittime', 'election_time', 'follower_sync_time', 'fsynctime', 'inflight_diff_count',
  'inflight_snap_count', 'leader_unavailable_time', 'learner_request_processor_queue_size',
  'netty_queued_buffer_capacity', 'node_changed_watch_count', 'node_children_watch_count', 'node_created_watch_count',
  'node_deleted_watch_count', 'observer_sync_time', 'pending_session_queue_size', 'prep_process_time',
  'prep_processor_queue_size', 'proposal_process_time', 'read_commit_proc_issued', 'read_commit_proc_req_queued',
  'reads_after_write_in_session_queue', 'reads_issued_from_session_queue', 'requests_in_session_queue',
  'session_queues_drained', 'snapshottime', 'socket_closing_time', 'startup_snap_load_time', 'startup_txns_load_time',
  'startup_txns_loaded', 'sync_process_time', 'sync_processor_batch_size', 'sync_processor_queue_size',
  'time_waiting_empty_pool_in_commit_processor_read_ms', 'unavailable_time', 'write_batch_time_in_commit_processor',
  'write_commit_proc_issued', 'write_commit_proc_req_queued',
] as const;

/** Summaries that also report p50_, p95_, p99_, p999_ (ZooKeeper's ADVANCED detail level). */
export const ZK_QUANTILE_SUMMARIES = [
  'close_session_prep_time', 'commit_propagation_latency', 'dead_watchers_cleaner_latency', 'jvm_pause_time_ms',
  'local_write_committed_time_ms', 'om_commit_process_time_ms', 'om_proposal_process_time_ms',
  'prep_processor_queue_time_ms', 'propagation_latency', 'proposal_ack_creation_latency', 'proposal_latency',
  'quorum_ack_latency', 'read_commitproc_time_ms', 'read_final_proc_time_ms', 'readlatency',
  'request_throttle_queue_time_ms', 'server_write_committed_time_ms', 'sync_processor_queue_and_flush_time_ms',
  'sync_processor_queue_flush_time_ms', 'sync_processor_queue_time_ms', 'updatelatency', 'write_commitproc_time_ms',
  'write_final_proc_time_ms',
] as const;

/**
 * Paddock's own counters of its abuse limits (docs/security.md), exported to Prometheus as
 * paddock_<name>_total; mntr keeps ZooKeeper's keys only, so they are not in it.
 */
export const PADDOCK_LIMIT_COUNTERS = {
  connections_rate_limited: 'Connections closed at accept by paddock.connectionRatePerIp.',
  requests_rate_delayed: 'Times a connection was read more slowly because of paddock.requestRatePerSession.',
  watches_refused: 'Reads answered QUOTAEXCEEDED because the session held paddock.maxWatchesPerSession watches.',
  tls_client_certificates_refused: 'TLS connections closed because their client certificate was not trusted (ssl.clientAuth=want).',
} as const;

export type ZkCounterName = (typeof ZK_COUNTERS)[number];
export type PaddockLimitCounterName = keyof typeof PADDOCK_LIMIT_COUNTERS;
export type ZkSummaryName = (typeof ZK_SUMMARIES)[number] | (typeof ZK_QUANTILE_SUMMARIES)[number];

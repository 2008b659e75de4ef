"""Test data: every panel target and variable query of Grafana dashboard 249 and of
the reference exporter's author's dashboards (test_process_exporter.py's end-to-end
test runs each against both exporters)."""

# Every panel target and variable query of Grafana dashboard 249 and of the reference
# exporter's author's dashboards, each with the repository, file and commit it was read
# from (whitespace inside an expression collapsed; nothing else changed).  The jsonnet
# ones were rendered by hand from their grproc.libsonnet helpers; they predate the
# reference's 0.5 and name families it no longer exports (cpu_user_seconds_total,
# namegroup_state), so they have data for neither exporter.
REFERENCE_DASHBOARDS = (
    ('Named processes (grafana.com 249)', 'dirtboll/quick-vm-monitoring',
     'dashboards/process-exporter.json',
     '23d2a709650e8ce283532df7f7968b4aeaadac70', (
        'namedprocess_namegroup_num_procs{groupname=~"$processes"}',
        'rate(namedprocess_namegroup_cpu_seconds_total{groupname=~"$processes"}[$interval])',
        'rate(namedprocess_namegroup_read_bytes_total{groupname=~"$processes"}[$interval])',
        'rate(namedprocess_namegroup_write_bytes_total{groupname=~"$processes"}[$interval])',
        'namedprocess_namegroup_memory_bytes{groupname=~"$processes", memtype="resident"}',
        'namedprocess_namegroup_memory_bytes{groupname=~"$processes", memtype="virtual"}',
        'label_values(namedprocess_namegroup_cpu_seconds_total,groupname)',
    )),
    ('Process Exporter', 'ncabatoff/grafana-dashboards',
     'dashboards/process-exporter.json',
     '2ceaf6b8a2583bba71316cce805987852c95b28d', (
        'up{job=~"process-exporter.*", instance=~"$instance"}',
        'scrape_duration_seconds{job=~"process-exporter.*", instance=~"$instance"}',
        'rate(namedprocess_scrape_errors{instance=~"$instance"}[1m])',
        'rate(namedprocess_scrape_partial_errors{instance=~"$instance"}[1m])',
        'rate(namedprocess_scrape_procread_errors{instance=~"$instance"}[1m])',
        'sum by (groupname) '
        '(irate(namedprocess_namegroup_cpu_seconds_total{groupname=~"$group", '
        'instance=~"$instance"}[1m]))',
        'sum by (groupname) (namedprocess_namegroup_memory_bytes{memtype="resident", '
        'groupname=~"$group", instance=~"$instance"})',
        'sum by (groupname) '
        '(irate(namedprocess_namegroup_write_bytes_total{groupname=~"$group", '
        'instance=~"$instance"}[1m]) + '
        'irate(namedprocess_namegroup_read_bytes_total{groupname=~"$group", '
        'instance=~"$instance"}[1m]))',
        'label_values(namedprocess_scrape_errors{job=~"process-exporter.*"}, instance)',
        'label_values(namedprocess_namegroup_num_procs{job=~"process-exporter.*", '
        'instance=~"($instance)"}, groupname)',
    )),
    ('Process Exporter Detail', 'ncabatoff/grafana-dashboards',
     'dashboards/process-exporter-detail.json',
     '2ceaf6b8a2583bba71316cce805987852c95b28d', (
        'sum by (groupname) (irate(namedprocess_namegroup_cpu_seconds_total{mode="user", '
        'groupname=~"$group", instance=~"$instance"}[1m]))',
        'sum by (groupname) (irate(namedprocess_namegroup_cpu_seconds_total{mode="system", '
        'groupname=~"$group", instance=~"$instance"}[1m]))',
        'sum by (groupname) '
        '(irate(namedprocess_namegroup_context_switches_total{groupname=~"$group", '
        'instance=~"$instance"}[1m]))',
        'sum by (groupname) (namedprocess_namegroup_num_procs{groupname=~"$group", '
        'instance=~"$instance"})',
        'sum by (groupname) (namedprocess_namegroup_num_threads{groupname=~"$group", '
        'instance=~"$instance"})',
        'sum by (groupname) '
        '(changes(namedprocess_namegroup_oldest_start_time_seconds{groupname=~"$group", '
        'instance=~"$instance"}[1m]))',
        'sum by (groupname) (namedprocess_namegroup_open_filedesc{groupname=~"$group", '
        'instance=~"$instance"})',
        'sum by (groupname) (namedprocess_namegroup_worst_fd_ratio{groupname=~"$group", '
        'instance=~"$instance"})',
        'sum by (groupname, wchan) (namedprocess_namegroup_threads_wchan{groupname=~"$group",'
        ' instance=~"$instance"})',
        'label_values(namedprocess_scrape_errors{job=~"process-exporter.*"}, instance)',
        'label_values(namedprocess_namegroup_num_procs{job=~"process-exporter.*", '
        'instance=~"($instance)"}, groupname)',
    )),
    ('Process Exporter Storage', 'ncabatoff/grafana-dashboards',
     'dashboards/process-exporter-storage.json',
     '6cc4f4a7f03653b031edb90b0a8afb02e1c01aba', (
        'sum by (groupname) (namedprocess_namegroup_memory_bytes{memtype="resident", '
        'groupname=~"$group", instance=~"$instance"})',
        'sum by (groupname) (namedprocess_namegroup_memory_bytes{memtype="virtual", '
        'groupname=~"$group", instance=~"$instance"})',
        'sum by (groupname) (namedprocess_namegroup_memory_bytes{memtype="swapped", '
        'groupname=~"$group", instance=~"$instance"})',
        'sum by (groupname) '
        '(irate(namedprocess_namegroup_read_bytes_total{groupname=~"$group", '
        'instance=~"$instance"}[1m]))',
        'sum by (groupname) '
        '(irate(namedprocess_namegroup_write_bytes_total{groupname=~"$group", '
        'instance=~"$instance"}[1m]))',
        'sum by (groupname) '
        '(irate(namedprocess_namegroup_major_page_faults_total{groupname=~"$group", '
        'instance=~"$instance"}[1m]))',
        'label_values(namedprocess_scrape_errors{job=~"process-exporter.*"}, instance)',
        'label_values(namedprocess_namegroup_num_procs{job=~"process-exporter.*", '
        'instance=~"($instance)"}, groupname)',
    )),
    ('procexp', 'ncabatoff/process-exporter',
     'dashboards/procmain.jsonnet',
     '63ea895741418c19fee0af1261148c7e092be1bd', (
        'up{job="process-exporter"}',
        'sum(scrape_duration_seconds{instance=~"$instance", job="process-exporter"})',
        'sum(scrape_samples_scraped{instance=~"$instance", job="process-exporter"})',
        'sum(namedprocess_scrape_errors{instance=~"$instance"})',
        'sum(namedprocess_namegroup_states{instance=~"$instance", state="Running"})',
        'sum(namedprocess_namegroup_states{instance=~"$instance", state="Waiting"})',
        'sum by (groupname) (namedprocess_namegroup_num_procs{instance=~"$instance", '
        'groupname=~"$groupname"})',
        'sum by (groupname) '
        '(changes(namedprocess_namegroup_oldest_start_time_seconds{instance=~"$instance", '
        'groupname=~"$groupname"}[$interval]))',
        'sum by (groupname) '
        '(rate(namedprocess_namegroup_cpu_user_seconds_total{instance=~"$instance", '
        'groupname=~"$groupname"}[$interval]) + '
        'rate(namedprocess_namegroup_cpu_system_seconds_total{instance=~"$instance", '
        'groupname=~"$groupname"}[$interval]))',
        'sum by (groupname) '
        '(rate(namedprocess_namegroup_read_bytes_total{instance=~"$instance", '
        'groupname=~"$groupname"}[$interval]) + '
        'rate(namedprocess_namegroup_write_bytes_total{instance=~"$instance", '
        'groupname=~"$groupname"}[$interval]))',
        'sum by (groupname) (namedprocess_namegroup_memory_bytes{instance=~"$instance", '
        'groupname=~"$groupname", memtype="resident"})',
        'sum by (groupname) (namedprocess_namegroup_worst_fd_ratio{instance=~"$instance", '
        'groupname=~"$groupname"})',
        'label_values(namedprocess_namegroup_num_procs, instance)',
        'label_values(namedprocess_namegroup_num_procs{instance=~"$instance"}, groupname)',
    )),
    ('procres', 'ncabatoff/process-exporter',
     'dashboards/procresources.jsonnet',
     '63ea895741418c19fee0af1261148c7e092be1bd', (
        'sum by (groupname) '
        '(rate(namedprocess_namegroup_cpu_user_seconds_total{instance=~"$instance", '
        'groupname=~"$groupname"}[$interval]))',
        'sum by (groupname) '
        '(rate(namedprocess_namegroup_cpu_system_seconds_total{instance=~"$instance", '
        'groupname=~"$groupname"}[$interval]))',
        'sum by (groupname) '
        '(rate(namedprocess_namegroup_read_bytes_total{instance=~"$instance", '
        'groupname=~"$groupname"}[$interval]))',
        'sum by (groupname) '
        '(rate(namedprocess_namegroup_write_bytes_total{instance=~"$instance", '
        'groupname=~"$groupname"}[$interval]))',
        'sum by (groupname) '
        '(rate(namedprocess_namegroup_major_page_faults_total{instance=~"$instance", '
        'groupname=~"$groupname"}[$interval]))',
        'sum by (groupname) (namedprocess_namegroup_memory_bytes{instance=~"$instance", '
        'groupname=~"$groupname", memtype="swapped"})',
        'sum by (groupname) (namedprocess_namegroup_memory_bytes{instance=~"$instance", '
        'groupname=~"$groupname", memtype="resident"})',
        'sum by (groupname) (namedprocess_namegroup_memory_bytes{instance=~"$instance", '
        'groupname=~"$groupname", memtype="virtual"})',
        'label_values(namedprocess_namegroup_num_procs, instance)',
        'label_values(namedprocess_namegroup_num_procs{instance=~"$instance"}, groupname)',
    )),
    ('proclow', 'ncabatoff/process-exporter',
     'dashboards/proclowlevel.jsonnet',
     '63ea895741418c19fee0af1261148c7e092be1bd', (
        'sum by (groupname) (namedprocess_namegroup_num_threads{instance=~"$instance", '
        'groupname=~"$groupname"})',
        'sum by (groupname) (namedprocess_namegroup_threads_wchan{instance=~"$instance", '
        'groupname=~"$groupname"})',
        'sum by (groupname) (namedprocess_namegroup_state{instance=~"$instance", '
        'groupname=~"$groupname", state="Running"})',
        'sum by (groupname,wchan) (namedprocess_namegroup_state{instance=~"$instance", '
        'groupname=~"$groupname"})',
        'sum by (groupname) (namedprocess_namegroup_state{instance=~"$instance", '
        'groupname=~"$groupname", state="Zombie"})',
        'sum by (groupname) (namedprocess_namegroup_state{instance=~"$instance", '
        'groupname=~"$groupname", state="Other"})',
        'sum by (groupname) '
        '(rate(namedprocess_namegroup_context_switches_total{instance=~"$instance", '
        'groupname=~"$groupname", ctxswitchtype="voluntary"}[$interval]))',
        'sum by (groupname) '
        '(rate(namedprocess_namegroup_context_switches_total{instance=~"$instance", '
        'groupname=~"$groupname", ctxswitchtype="nonvoluntary"}[$interval]))',
        'label_values(namedprocess_namegroup_num_procs, instance)',
        'label_values(namedprocess_namegroup_num_procs{instance=~"$instance"}, groupname)',
    )),
)

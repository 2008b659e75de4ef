# Homebrew formula for process_exporter.py, a Prometheus exporter of per-process metrics.
#
# Until it is in a tap of its own, install it from a local tap:
#   brew tap-new --no-git "$USER/local"
#   cp packaging/homebrew/process_exporter.rb "$(brew --repository "$USER/local")/Formula/"
#   brew install --HEAD "$USER/local/process_exporter"   # the release once its sha256 is in
#   brew services start process_exporter                 # as you; with sudo, as root
#
# Check after an edit: ruby -wc packaging/homebrew/process_exporter.rb
class ProcessExporter < Formula
  desc "Prometheus exporter of per-process metrics for macOS and Linux"
  homepage "https://github.com/example/process_exporter"
  url "https://github.com/example/process_exporter/archive/refs/tags/v0.1.0.tar.gz"
  # A placeholder: fill it in at release with the tarball's checksum,
  #   curl -fsSL https://github.com/example/process_exporter/archive/refs/tags/v0.1.0.tar.gz | shasum -a 256
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "MIT"
  head "https://github.com/example/process_exporter.git", branch: "main"

  livecheck do
    url :stable
    regex(/^v?(\d+(?:\.\d+)+)$/i)
  end

  # One script, standard library only, for Python 3.8 and later: on macOS the system's
  # /usr/bin/python3 (from the Command Line Tools, which Homebrew needs anyway), on Linux
  # Homebrew's python. No virtualenv and no resources: nothing comes from PyPI.
  uses_from_macos "python"

  def install
    libexec.install "process_exporter.py"

    python3 = OS.mac? ? "/usr/bin/python3" : Formula["python"].opt_libexec/"bin/python3"
    # The command `process_exporter` and what `brew services` runs. exec, so that the
    # service's process is the exporter itself and gets launchd's or systemd's signals
    # (SIGTERM stops it, SIGHUP reloads the flags file).
    (bin/"process_exporter").write <<~BASH
      #!/bin/bash
      # process_exporter.py on #{python3}, with the flags in
      # #{etc}/process_exporter.flags (one a line); flags given here win over the file's.
      # launchd starts a service with a soft limit of 256 descriptors, which caps the
      # exporter at 192 connections: raise it to 4096 as the project's launchd plist does.
      soft=$(ulimit -Sn)
      if [ "$soft" != unlimited ] && [ "$soft" -lt 4096 ]; then
        ulimit -Sn 4096 2>/dev/null
      fi
      exec "#{python3}" "#{opt_libexec}/process_exporter.py" \\
        "--config.file=#{etc}/process_exporter.flags" "$@"
    BASH

    # The flags file, for the user to edit. etc.install never overwrites it: a file the
    # user changed stays, and a newer default lands beside it as process_exporter.flags.default.
    (buildpath/"process_exporter.flags").write <<~EOS
      # Flags of process_exporter, one a line, as on its command line (see
      # process_exporter --help); blank lines and lines starting with # are skipped.
      # Left empty, it serves http://127.0.0.1:9256/metrics. After a change, send it
      # SIGHUP: `brew info process_exporter` says how.
      #--web.listen-address=127.0.0.1:9256
    EOS
    etc.install "process_exporter.flags"

    # Documentation under share/doc/process_exporter (README.md with docs/ beside it, so
    # its links work), the Grafana dashboard under share/process_exporter.
    doc.install "README.md", "docs"
    pkgshare.install "dashboards"
  end

  def caveats
    <<~EOS
      process_exporter reads its flags, one a line, from
        #{etc}/process_exporter.flags
      Left empty, it listens on 127.0.0.1:9256 (loopback only): http://127.0.0.1:9256/metrics

      `brew services start process_exporter` runs it as you: it lists every process but
      reads only your own processes' numbers in full. As root,
      `sudo brew services start process_exporter`, it reads them all.

      brew services has no reload: after editing the flags file, send it SIGHUP
        kill -HUP $(pgrep -f #{opt_libexec}/process_exporter.py)
      (with sudo if it runs as root). A reload applies what to export (filters, groups,
      labels, --metrics, --top, --min-age); listening, TLS and basic auth change with
        brew services restart process_exporter

      A Grafana dashboard of its metrics:
        #{opt_pkgshare}/dashboards/process_exporter.json
    EOS
  end

  service do
    run [opt_bin/"process_exporter"]
    # Not node_exporter's keep_alive false: an exporter must be up whenever Prometheus
    # scrapes, so one that exits (a crash; a flags file that did not parse, once fixed)
    # comes back without anyone at the keyboard. launchd and systemd space the restarts
    # out, and `brew services stop` still stops it. The project's launchd plist does the same.
    keep_alive true
    process_type :background
    # The exporter logs to stderr (stdout stays empty but for --once): one file for both.
    # No working_dir: it writes no files, and its flags file is given by absolute path.
    log_path var/"log/process_exporter.log"
    error_log_path var/"log/process_exporter.log"
  end

  test do
    assert_match(/^process_exporter \d+(?:\.\d+)+ \(python 3\.\d+/,
                 shell_output("#{bin}/process_exporter --version"))
    assert_match "process_exporter_build_info", shell_output("#{bin}/process_exporter --once")
  end
end

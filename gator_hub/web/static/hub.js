// Live updates of the hub's pages (docs/hub-pages.md).  The page says what it is in
// <body data-live="runs|run|job" data-events="URL">; this script listens to that
// server-sent event stream and applies each event as TEXT: textContent and
// createTextNode only, never innerHTML, so whatever a job printed stays text.
"use strict";

(function () {
  const body = document.body;
  const kind = body.dataset.live;
  if (!kind || !window.EventSource) {
    return;
  }

  function pad(number) {
    return String(number).padStart(2, "0");
  }

  // The server's formats: seconds since the epoch as UTC, durations short.
  function when(stamp) {
    if (stamp === null || stamp === undefined) {
      return "-";
    }
    return new Date(stamp * 1000).toISOString().slice(0, 19).replace("T", " ");
  }

  function took(seconds) {
    if (seconds === null || seconds === undefined) {
      return "-";
    }
    if (seconds < 1) {
      return Math.round(seconds * 1000) + " ms";
    }
    if (seconds < 60) {
      return seconds.toFixed(1) + " s";
    }
    let minutes = Math.floor(Math.round(seconds) / 60);
    const secs = Math.round(seconds) % 60;
    if (minutes < 60) {
      return minutes + " m " + pad(secs) + " s";
    }
    const hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    return hours + " h " + pad(minutes) + " m";
  }

  function fields(root, name) {
    return root.querySelectorAll('[data-field="' + name + '"]');
  }

  function setText(root, name, value) {
    fields(root, name).forEach(function (element) {
      element.textContent = value === null || value === undefined ? "-" : String(value);
    });
  }

  function setBadge(element, value) {
    element.textContent = value || "-";
    element.className = "badge " + (value || "none");
  }

  function element(tag, className, text) {
    const made = document.createElement(tag);
    if (className) {
      made.className = className;
    }
    if (text !== undefined && text !== null) {
      made.appendChild(document.createTextNode(String(text)));
    }
    return made;
  }

  function runPath(runId) {
    return "/runs/" + encodeURIComponent(runId);
  }

  function jobLink(runId, path) {
    const link = element("a", "mono", path);
    link.href = runPath(runId) + "/jobs/" + encodeURIComponent(path);
    return link;
  }

  function runLabel(run) {
    return run.state !== "running" && run.result ? run.result : run.state;
  }

  // A run's figures wherever the page shows them (a row of the list, a run's summary).
  function applyRun(root, run) {
    ["passed", "failed", "lost", "skipped"].forEach(function (name) {
      setText(root, name, run[name]);
    });
    setText(root, "duration", took(run.duration));
    setText(root, "done", run.done + "/" + run.total);
    fields(root, "progress").forEach(function (bar) {
      bar.max = run.total || 1;
      bar.value = run.done;
    });
    fields(root, "result").forEach(function (badge) {
      setBadge(badge, runLabel(run));
    });
  }

  const indicator = document.getElementById("live-state");

  function show(text) {
    if (indicator) {
      indicator.hidden = !text;
      indicator.textContent = text || "";
    }
  }

  function listen(url, handlers) {
    const source = new EventSource(url);
    source.onopen = function () {
      show("live");
    };
    source.onerror = function () {
      show(source.readyState === EventSource.CLOSED ? "" : "reconnecting…");
    };
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (message) {
        handlers[name](JSON.parse(message.data), source);
      });
    });
    return source;
  }

  function stop(source) {
    source.close();
    show("");
  }

  // -- the runs page: every row follows its run; new runs appear on the first page
  function runsPage() {
    const rows = document.getElementById("run-rows");
    const template = document.getElementById("run-row");
    const insert = body.dataset.insert === "yes";
    const ids = Array.from(rows.querySelectorAll("tr[data-run]")).map(function (row) {
      return row.dataset.run;
    });
    const url = body.dataset.events + "?ids=" + encodeURIComponent(ids.join(","));

    function rowOf(run) {
      const row = template.content.firstElementChild.cloneNode(true);
      row.dataset.run = run.id;
      row.querySelectorAll("[data-link]").forEach(function (link) {
        link.href = runPath(run.id);
      });
      setText(row, "spec_name", run.spec_name || "(unnamed)");
      setText(row, "short_id", run.id.slice(0, 12));
      setText(row, "user", run.user || "-");
      setText(row, "started", when(run.started));
      return row;
    }

    listen(url, {
      runs: function (data) {
        const known = {};
        rows.querySelectorAll("tr[data-run]").forEach(function (row) {
          known[row.dataset.run] = row;
        });
        data.runs.slice().reverse().forEach(function (run) {
          let row = known[run.id];
          if (!row && insert) {
            row = rowOf(run);
            rows.insertBefore(row, rows.firstChild);
            const empty = rows.querySelector("tr.none");
            if (empty) {
              empty.remove();
            }
          }
          if (row) {
            applyRun(row, run);
          }
        });
      },
    });
  }

  // -- a run's page: counts, progress, and failures as they come
  function runPage() {
    const runId = body.dataset.run;
    const list = document.getElementById("failure-list");
    const count = document.getElementById("failed-count");
    const ended = document.getElementById("run-ended");
    let wasRunning = null;
    listen(body.dataset.events, {
      run: function (run, source) {
        document.querySelectorAll("[data-run]").forEach(function (root) {
          if (root !== body) {
            applyRun(root, run);
          }
        });
        count.textContent = String(run.failed_jobs);
        const listed = {};
        list.querySelectorAll("li[data-path]").forEach(function (item) {
          listed[item.dataset.path] = true;
        });
        run.failures.forEach(function (failure) {
          if (listed[failure.path]) {
            return;
          }
          const item = element("li");
          item.dataset.path = failure.path;
          const badge = element("span");
          setBadge(badge, failure.result);
          item.appendChild(badge);
          item.appendChild(document.createTextNode(" "));
          item.appendChild(jobLink(runId, failure.path));
          item.appendChild(document.createTextNode(" "));
          item.appendChild(element("span", "first-error", failure.first_error || failure.reason || ""));
          list.appendChild(item);
        });
        if (wasRunning === null) {
          wasRunning = run.state === "running";
        }
        if (run.state !== "running") {
          if (wasRunning) {
            ended.hidden = false;
          }
          stop(source);
        }
      },
    });
  }

  // -- a job's page: its messages as they are logged, and its result
  function jobPage() {
    const table = document.getElementById("messages");
    const follow = body.dataset.follow === "yes";
    const following = document.getElementById("following");
    listen(body.dataset.events, {
      messages: function (data) {
        if (!follow) {
          return;
        }
        const empty = table.querySelector("tr.none");
        if (empty) {
          empty.remove();
        }
        const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
        data.messages.forEach(function (message) {
          const row = element("tr", message.level);
          row.appendChild(element("td", "num", message.seq));
          row.appendChild(element("td", "", when(message.time)));
          row.appendChild(element("td", "", message.level));
          row.appendChild(element("td", "text", message.text));
          table.appendChild(row);
        });
        if (atBottom) {
          window.scrollTo(0, document.body.scrollHeight);
        }
      },
      job: function (job) {
        fields(document, "result").forEach(function (badge) {
          setBadge(badge, job.result);
        });
        setText(document, "exit_code", job.exit_code);
        setText(document, "reason", job.reason);
        setText(document, "duration", took(job.duration));
        setText(document, "stopped", when(job.stopped));
        if (following) {
          following.hidden = !follow || job.result !== "running";
        }
      },
      done: function (_data, source) {
        if (following) {
          following.hidden = true;
        }
        stop(source);
      },
    });
  }

  const pages = {runs: runsPage, run: runPage, job: jobPage};
  if (pages[kind]) {
    pages[kind]();
  }
})();

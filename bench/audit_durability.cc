// How long it takes to make audit lines durable (issue 6 item 8): the file sink's latency per
// sync bounds the throughput of audited statements. Two parts:
//   batch  one writer, one batch at a time, by method: what a lone sync costs;
//   loop   sessions in a closed loop against a writer with 1..N syncs in flight: what the sink's
//          design gets out of the disk (proxy/audit_file_sink.h).
//
// Run it on the file system of the trail being tuned (bench/run --audit writes to
// build-bench/audit/, on the same file system as /work), on a machine as quiet as you can get:
// other users' disk syncs change the numbers (on a virtual disk whose lone flush waits for a
// timer tick, someone else's flush makes yours return early).
//
//   g++ -O2 -std=c++20 -o /tmp/audit_durability bench/audit_durability.cc
//   /tmp/audit_durability [--dir build-bench/audit] [--seconds 2] [--rounds 3]
//       [--batches 1,4,8,16,32] [--clients 1,8,32] [--in-flight 1,2,4,8]
//       [--overlap-after 0,500,1000] [--only batch|loop]
//
// Batch methods (each in a fresh file in DIR, removed afterwards; every batch is `lines` lines of
// 600 bytes written with one write or pwrite):
//   append-fsync        O_APPEND write + fsync                    (the sink before issue 6 item 8)
//   append-fdatasync    O_APPEND write + fdatasync                (i_size still changes: journal commit)
//   keepsize-fdatasync  fallocate(FALLOC_FL_KEEP_SIZE) of the segment, append + fdatasync
//   falloc-fdatasync    fallocate of the segment (unwritten extents, size set), pwrite in place +
//                       fdatasync (each first write converts extents: journal commit)
//   zeros-fdatasync     the segment written with zeros and fsync'd first, pwrite in place +
//                       fdatasync (no metadata changes: data and a cache flush only)
//   append-odsync       O_APPEND|O_DSYNC write
//   zeros-odsync        O_DSYNC pwrite in place over a zero-written segment
//   extend-zeros        (not a batch) writing a chunk of `lines` x 64 KiB of zeros past the end
//                       and fsync: what growing a zero-written file costs, once per chunk
// Rounds interleave the methods, so a disturbance (other users of the disk) hits them alike.
//
// Output: CSV. Batch: one row per method and batch size: latency of one batch (mean, p50, p90, p99
// in µs over all rounds), batches/s and lines/s one writer thread reaches, and the ratio of lines/s
// to append-fsync's at the same batch size. Loop: one row per clients, syncs in flight and overlap
// delay: lines/s, syncs/s, lines per sync, the latency of a line (submit to durable) and the ratio
// of lines/s to group commit with fsync (1 in flight, the sink before issue 6 item 8).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace {

constexpr size_t kLineBytes = 600;
constexpr off_t kSegment = 64 << 20;  // the preallocated region (bigger than any run writes)

std::string g_file;  // the file being measured, removed on a failure too

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "audit_durability: %s: %s\n", what, std::strerror(errno));
  if (!g_file.empty()) ::unlink(g_file.c_str());
  std::exit(2);
}

void WriteAll(int fd, const char* p, size_t n, off_t at, bool positional) {
  while (n > 0) {
    const ssize_t w = positional ? ::pwrite(fd, p, n, at) : ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      Die("write");
    }
    p += w;
    n -= static_cast<size_t>(w);
    at += w;
  }
}

void ZeroFill(int fd, off_t from, off_t to) {
  static const std::string zeros(1 << 20, '\0');
  for (off_t at = from; at < to;) {
    const size_t n = static_cast<size_t>(std::min<off_t>(to - at, static_cast<off_t>(zeros.size())));
    WriteAll(fd, zeros.data(), n, at, true);
    at += static_cast<off_t>(n);
  }
}

enum class Method {
  kAppendFsync,
  kAppendFdatasync,
  kKeepSizeFdatasync,
  kFallocFdatasync,
  kZerosFdatasync,
  kAppendODsync,
  kZerosODsync,
  kExtendZeros,
};

struct MethodInfo {
  Method method;
  const char* name;
};

constexpr MethodInfo kMethods[] = {
    {Method::kAppendFsync, "append-fsync"},
    {Method::kAppendFdatasync, "append-fdatasync"},
    {Method::kKeepSizeFdatasync, "keepsize-fdatasync"},
    {Method::kFallocFdatasync, "falloc-fdatasync"},
    {Method::kZerosFdatasync, "zeros-fdatasync"},
    {Method::kAppendODsync, "append-odsync"},
    {Method::kZerosODsync, "zeros-odsync"},
    {Method::kExtendZeros, "extend-zeros"},
};

double NowUs() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// One file, prepared for `m`; batches of `lines` lines for `seconds`; latencies appended to `out`.
void RunPoint(const std::string& dir, Method m, size_t lines, double seconds, std::vector<double>& out) {
  const std::string path = dir + "/audit-durability-" + std::to_string(::getpid()) + ".tmp";
  g_file = path;
  const bool dsync = m == Method::kAppendODsync || m == Method::kZerosODsync;
  const bool in_place = m == Method::kFallocFdatasync || m == Method::kZerosFdatasync || m == Method::kZerosODsync;
  int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  if (!in_place && m != Method::kExtendZeros) flags |= O_APPEND;
  if (dsync) flags |= O_DSYNC;
  // Prepared without O_DSYNC, then reopened with the method's flags.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) Die("open");
  switch (m) {
    case Method::kKeepSizeFdatasync:
      if (::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, kSegment) != 0) Die("fallocate");
      break;
    case Method::kFallocFdatasync:
      if (::fallocate(fd, 0, 0, kSegment) != 0) Die("fallocate");
      break;
    case Method::kZerosFdatasync:
    case Method::kZerosODsync:
      ZeroFill(fd, 0, kSegment);
      break;
    default:
      break;
  }
  if (::fsync(fd) != 0) Die("fsync");
  ::close(fd);
  fd = ::open(path.c_str(), flags & ~O_TRUNC & ~O_CREAT, 0600);
  if (fd < 0) Die("reopen");

  std::string batch;
  for (size_t i = 0; i < lines; ++i) {
    std::string line(kLineBytes - 1, 'x');
    std::snprintf(line.data(), line.size(), "{\"seq\":%zu,", i);
    line[std::strlen(line.c_str())] = 'x';
    batch += line;
    batch += '\n';
  }
  const double end = NowUs() + seconds * 1e6;
  off_t at = 0;
  const off_t chunk = static_cast<off_t>(lines) * (64 << 10);
  while (NowUs() < end) {
    if (in_place && at + static_cast<off_t>(batch.size()) > kSegment) break;
    const double start = NowUs();
    if (m == Method::kExtendZeros) {
      ZeroFill(fd, at, at + chunk);
      if (::fsync(fd) != 0) Die("fsync");
      at += chunk;
    } else {
      WriteAll(fd, batch.data(), batch.size(), at, in_place);
      at += static_cast<off_t>(batch.size());
      int rc = 0;
      if (m == Method::kAppendFsync) {
        rc = ::fsync(fd);
      } else if (!dsync) {
        rc = ::fdatasync(fd);
      }
      if (rc != 0) Die("sync");
    }
    out.push_back(NowUs() - start);
  }
  ::close(fd);
  ::unlink(path.c_str());
}


// A closed loop as the proxy's sessions make one: `clients` threads each submit a line and wait
// until it is durable, then submit the next. One writer thread appends every line submitted since
// its last write with one write() and asks one of `in_flight` sync threads (each with its own
// descriptor, so each sees every writeback error) for a sync, going on to write the next lines
// while it runs. A sync covers every byte written before it starts. in_flight 1 is plain group
// commit (what the sink did before issue 6 item 8): the next batch is written while the current
// sync runs and synced after it. With more, a sync starts while others run only once the
// youngest running one has run for `overlap_after_us` (0: at once); with none running, at once.
struct LoopResult {
  double lines_per_s = 0;
  double syncs_per_s = 0;
  std::vector<double> latency;
};

LoopResult RunLoop(const std::string& dir, size_t clients, size_t in_flight, bool full_fsync,
                   double overlap_after_us, double seconds) {
  const std::string path = dir + "/audit-durability-loop-" + std::to_string(::getpid()) + ".tmp";
  g_file = path;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) Die("open");
  std::string line(kLineBytes - 1, 'x');
  line += '\n';

  std::mutex mu;
  std::condition_variable writer_cv;
  std::condition_variable clients_cv;
  std::condition_variable sync_cv;
  bool stop = false;
  std::vector<size_t> inbound;  // client ids
  std::deque<std::pair<uint64_t, std::vector<size_t>>> written;  // (end offset, clients)
  std::vector<uint64_t> acked(clients, 0);
  uint64_t end = 0;          // bytes written
  uint64_t started_to = 0;   // the highest target of a started sync
  size_t asked = 0;          // syncs asked for, not yet started
  size_t claimed = 0;        // ... that a sync thread has taken (it waits to start)
  size_t running = 0;
  double last_start = 0;
  std::vector<std::pair<uint64_t, int>> completions;
  uint64_t syncs = 0;

  std::vector<std::thread> syncers;
  for (size_t i = 0; i < in_flight; ++i) {
    syncers.emplace_back([&] {
      const int own = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (own < 0) Die("open");
      std::unique_lock lock(mu);
      while (true) {
        sync_cv.wait(lock, [&] { return stop || asked > claimed; });
        if (stop) break;
        ++claimed;
        // Company for a sync that has not returned yet, but not at once.
        while (!stop && running > 0 && NowUs() < last_start + overlap_after_us) {
          const auto left = static_cast<long>(last_start + overlap_after_us - NowUs()) + 1;
          sync_cv.wait_for(lock, std::chrono::microseconds(left));
        }
        --claimed;
        --asked;
        const uint64_t target = end;
        started_to = std::max(started_to, target);
        last_start = NowUs();
        ++running;
        ++syncs;
        lock.unlock();
        const int rc = full_fsync ? ::fsync(own) : ::fdatasync(own);
        lock.lock();
        --running;
        completions.emplace_back(target, rc);
        writer_cv.notify_one();
        sync_cv.notify_all();
      }
      ::close(own);
    });
  }
  std::thread writer([&] {
    uint64_t durable = 0;
    std::unique_lock lock(mu);
    while (true) {
      writer_cv.wait(lock, [&] {
        return stop || !completions.empty() || !inbound.empty() ||
               (end > started_to && asked == 0 && running < in_flight);
      });
      if (stop) break;
      for (const auto& [target, rc] : completions) {
        if (rc != 0) Die("sync");
        durable = std::max(durable, target);
      }
      completions.clear();
      bool woke = false;
      while (!written.empty() && written.front().first <= durable) {
        for (const size_t c : written.front().second) ++acked[c];
        written.pop_front();
        woke = true;
      }
      if (woke) clients_cv.notify_all();
      if (!inbound.empty()) {
        std::vector<size_t> batch;
        batch.swap(inbound);
        lock.unlock();
        std::string buffer;
        for (size_t i = 0; i < batch.size(); ++i) buffer += line;
        WriteAll(fd, buffer.data(), buffer.size(), 0, false);
        lock.lock();
        end += buffer.size();
        written.emplace_back(end, std::move(batch));
      }
      // A sync for what no started sync covers, unless one is already asked for.
      if (end > started_to && asked == 0 && running < in_flight) {
        ++asked;
        sync_cv.notify_one();
      }
    }
  });
  std::vector<std::vector<double>> latency(clients);
  std::vector<std::thread> client_threads;
  const double stop_at = NowUs() + seconds * 1e6;
  for (size_t c = 0; c < clients; ++c) {
    client_threads.emplace_back([&, c] {
      while (NowUs() < stop_at) {
        const double start = NowUs();
        std::unique_lock lock(mu);
        const uint64_t want = acked[c] + 1;
        inbound.push_back(c);
        writer_cv.notify_one();
        clients_cv.wait(lock, [&] { return acked[c] >= want; });
        lock.unlock();
        latency[c].push_back(NowUs() - start);
      }
    });
  }
  for (std::thread& t : client_threads) t.join();
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  writer_cv.notify_all();
  sync_cv.notify_all();
  writer.join();
  for (std::thread& t : syncers) t.join();
  ::close(fd);
  ::unlink(path.c_str());
  LoopResult r;
  for (const std::vector<double>& v : latency) r.latency.insert(r.latency.end(), v.begin(), v.end());
  r.lines_per_s = static_cast<double>(r.latency.size()) / seconds;
  r.syncs_per_s = static_cast<double>(syncs) / seconds;
  return r;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::max(1.0, std::ceil(p / 100.0 * static_cast<double>(v.size()))));
  return v[std::min(rank, v.size()) - 1];
}

std::vector<size_t> ParseList(std::string_view s) {
  std::vector<size_t> out;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    out.push_back(std::strtoul(std::string(s.substr(0, comma)).c_str(), nullptr, 10));
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
  }
  return out;
}

constexpr char kUsage[] =
    "usage: audit_durability [--dir DIR] [--seconds S] [--rounds N] [--batches 1,4,8,16,32]\n"
    "                        [--clients 1,8,32] [--in-flight 1,2,4,8] [--overlap-after 0,500,1000]\n"
    "                        [--only batch|loop]\n";

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "build-bench/audit";
  double seconds = 2;
  int rounds = 3;
  std::vector<size_t> batches = {1, 4, 8, 16, 32};
  std::vector<size_t> clients = {1, 8, 32};
  std::vector<size_t> in_flight = {1, 2, 4, 8};
  std::vector<size_t> overlap_after = {0, 500, 1000};
  std::string only;
  if ((argc - 1) % 2 != 0) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--dir") {
      dir = argv[i + 1];
    } else if (flag == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (flag == "--rounds") {
      rounds = std::atoi(argv[i + 1]);
    } else if (flag == "--batches") {
      batches = ParseList(argv[i + 1]);
    } else if (flag == "--clients") {
      clients = ParseList(argv[i + 1]);
    } else if (flag == "--in-flight") {
      in_flight = ParseList(argv[i + 1]);
    } else if (flag == "--overlap-after") {
      overlap_after = ParseList(argv[i + 1]);
    } else if (flag == "--only") {
      only = argv[i + 1];
    } else {
      std::fputs(kUsage, stderr);
      return 2;
    }
  }
  if (only != "loop") {
    std::map<std::pair<int, size_t>, std::vector<double>> samples;
    for (int r = 0; r < rounds; ++r) {
      for (const size_t lines : batches) {
        for (const MethodInfo& mi : kMethods) {
          std::fprintf(stderr, "round %d: %s, %zu lines\n", r + 1, mi.name, lines);
          RunPoint(dir, mi.method, lines, seconds, samples[{static_cast<int>(mi.method), lines}]);
        }
      }
    }
    std::printf("method,lines,batch_bytes,batches,mean_us,p50_us,p90_us,p99_us,batches_per_s,lines_per_s,"
                "vs_append_fsync\n");
    for (const size_t lines : batches) {
      const std::vector<double>& base = samples[{static_cast<int>(Method::kAppendFsync), lines}];
      double base_mean = 0;
      for (const double v : base) base_mean += v;
      base_mean /= static_cast<double>(std::max<size_t>(1, base.size()));
      for (const MethodInfo& mi : kMethods) {
        const std::vector<double>& v = samples[{static_cast<int>(mi.method), lines}];
        double mean = 0;
        for (const double x : v) mean += x;
        mean /= static_cast<double>(std::max<size_t>(1, v.size()));
        const bool extend = mi.method == Method::kExtendZeros;
        const double per_s = mean > 0 ? 1e6 / mean : 0;
        std::printf("%s,%zu,%zu,%zu,%.0f,%.0f,%.0f,%.0f,%.0f,%s,%s\n", mi.name, lines,
                    extend ? lines * (64 << 10) : lines * kLineBytes, v.size(), mean, Percentile(v, 50),
                    Percentile(v, 90), Percentile(v, 99), per_s,
                    extend ? "" : std::to_string(static_cast<long>(per_s * static_cast<double>(lines))).c_str(),
                    extend ? "" : std::to_string(base_mean / mean).substr(0, 4).c_str());
      }
    }
  }
  if (only != "batch") {
    // (clients, in_flight, fsync, overlap_after_us) -> pooled rounds
    std::map<std::tuple<size_t, size_t, bool, size_t>, LoopResult> loops;
    for (int r = 0; r < rounds; ++r) {
      for (const size_t c : clients) {
        for (const bool full : {true, false}) {
          for (const size_t k : in_flight) {
            for (const size_t after : overlap_after) {
              if (full && k != 1) continue;  // fsync only as the baseline
              if (k == 1 && after != overlap_after.front()) continue;  // no overlap to delay
              std::fprintf(stderr, "round %d: loop, %zu clients, %zu in flight after %zu us, %s\n", r + 1, c, k,
                           after, full ? "fsync" : "fdatasync");
              LoopResult one = RunLoop(dir, c, k, full, static_cast<double>(after), seconds);
              LoopResult& all = loops[{c, k, full, after}];
              all.lines_per_s += one.lines_per_s / rounds;
              all.syncs_per_s += one.syncs_per_s / rounds;
              all.latency.insert(all.latency.end(), one.latency.begin(), one.latency.end());
            }
          }
        }
      }
    }
    std::printf("\nloop,clients,syncs_in_flight,overlap_after_us,sync,lines_per_s,syncs_per_s,lines_per_sync,"
                "p50_us,p99_us,vs_group_fsync\n");
    for (const size_t c : clients) {
      const double base = loops[{c, 1, true, overlap_after.front()}].lines_per_s;
      for (const auto& [key, r] : loops) {
        const auto& [lc, k, full, after] = key;
        if (lc != c) continue;
        std::printf("loop,%zu,%zu,%zu,%s,%.0f,%.0f,%.1f,%.0f,%.0f,%.2f\n", c, k, k == 1 ? 0 : after,
                    full ? "fsync" : "fdatasync", r.lines_per_s, r.syncs_per_s,
                    r.syncs_per_s > 0 ? r.lines_per_s / r.syncs_per_s : 0, Percentile(r.latency, 50),
                    Percentile(r.latency, 99), base > 0 ? r.lines_per_s / base : 0);
      }
    }
  }
  return 0;
}

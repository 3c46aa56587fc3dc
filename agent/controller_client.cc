// SPDX-License-Identifier: BSD-2-Clause
#include "controller_client.h"

#include <grpcpp/grpcpp.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "sipwarden/pem_file.h"
#include "sipwarden/absl_compat.h"
#include "sipwarden/ip.h"
#include "sipwarden/v1/agent.grpc.pb.h"

namespace sw {

namespace v1 = sipwarden::v1;

// The report stream of one session.
class ReportStream {
 public:
  std::unique_ptr<grpc::ClientReaderWriter<v1::ReportBatch, v1::ReportAck>> rw;
};

v1::ForwardedEvent ToForwarded(const rules::SyntheticEvent& e) {
  v1::ForwardedEvent out;
  out.set_ts_unix_ns(e.ts_ns);
  out.set_name(e.name);
  out.set_has_flow(e.has_flow);
  if (e.has_flow) {
    out.set_src_ip(e.flow.src.ToString());
    out.set_dst_ip(e.flow.dst.ToString());
    out.set_src_port(e.flow.sport);
    out.set_dst_port(e.flow.dport);
    out.set_transport(std::string(ev::TransportName(e.flow.transport)));
  }
  for (const auto& [k, v] : e.fields) {
    auto* f = out.add_fields();
    f->set_name(k);
    f->set_value(v);
  }
  return out;
}

bool ControllerClient::Forwards(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::binary_search(forward_.begin(), forward_.end(), name);
}

ControllerClient::ControllerClient(ControllerClientOptions options, Apply apply)
    : options_(std::move(options)), apply_(std::move(apply)) {
  // Report ids increase across restarts: they start at the start time in µs.
  next_id_ = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
}

ControllerClient::~ControllerClient() {
  Stop();
  if (spool_) fclose(spool_);
}

void ControllerClient::SpoolPending() {
  // Memory first (older ids), then what the file still held unread, into a
  // new file that replaces the old one only once it is written and synced:
  // a crash on the way leaves the old spool as it was.
  std::vector<std::string> rest;
  std::string buf;
  while (spooled_ > 0 && ReadSpoolRecord(spool_read_, spool_write_, &buf)) {
    spool_read_ += 4 + buf.size();
    --spooled_;
    rest.push_back(std::move(buf));
  }
  const std::string tmp = options_.spool_path + ".tmp";
  FILE* out = fopen(tmp.c_str(), "w+b");
  if (!out) {
    stats_.reports_dropped += pending_.size();
    pending_.clear();
    return;
  }
  FILE* old = spool_;
  spool_ = out;
  spool_read_ = spool_write_ = 0;
  spooled_ = 0;
  for (const auto& r : pending_) Spill(r);
  pending_.clear();
  for (const auto& bytes : rest) {
    v1::AgentReport r;
    if (r.ParseFromString(bytes)) Spill(r);
  }
  if (fflush(out) != 0 || fdatasync(fileno(out)) != 0 ||
      rename(tmp.c_str(), options_.spool_path.c_str()) != 0) {
    // The old file keeps what it had; what was only in memory is lost.
    fclose(out);
    unlink(tmp.c_str());
    spool_ = old;
    return;
  }
  fclose(old);
}

absl::Status ControllerClient::OpenSpool() {
  if (options_.spool_path.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  spool_ = fopen(options_.spool_path.c_str(), "a+b");
  if (!spool_) {
    return absl::UnavailableError(
        absl::StrCat("cannot open the report spool ", options_.spool_path, ": ", strerror(errno)));
  }
  // What an earlier run left: every whole record (a torn last one is cut).
  fseek(spool_, 0, SEEK_END);
  const uint64_t size = static_cast<uint64_t>(ftell(spool_));
  uint64_t at = 0, n = 0;
  uint64_t max_id = 0;
  std::string buf;
  while (at + 4 <= size && ReadSpoolRecord(at, size, &buf)) {
    v1::AgentReport r;
    if (r.ParseFromString(buf)) max_id = std::max(max_id, r.id());
    at += 4 + buf.size();
    ++n;
  }
  if (at < size && ftruncate(fileno(spool_), static_cast<off_t>(at)) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot repair the report spool ",
                                               options_.spool_path, ": ", strerror(errno)));
  }
  spool_read_ = 0;
  spool_write_ = at;
  spooled_ = n;
  // Ids go on from the spooled ones even if the clock went back.
  next_id_ = std::max(next_id_, max_id);
  Refill();
  return absl::OkStatus();
}

bool ControllerClient::ReadSpoolRecord(uint64_t at, uint64_t end, std::string* buf) {
  uint32_t len = 0;
  if (fseek(spool_, static_cast<long>(at), SEEK_SET) != 0 || fread(&len, 4, 1, spool_) != 1 ||
      at + 4 + len > end) {
    return false;
  }
  buf->resize(len);
  return len == 0 || fread(buf->data(), len, 1, spool_) == 1;
}

void ControllerClient::Spill(const v1::AgentReport& r) {
  std::string buf;
  r.SerializeToString(&buf);
  const uint32_t len = static_cast<uint32_t>(buf.size());
  if (spool_write_ + 4 + len > options_.max_spool_bytes) {
    ++stats_.reports_dropped;
    return;
  }
  // A write after reads needs a seek in between (C's rule for update
  // streams); the file is opened for appending anyway.
  if (fseek(spool_, 0, SEEK_END) != 0 || fwrite(&len, 4, 1, spool_) != 1 ||
      (len && fwrite(buf.data(), len, 1, spool_) != 1) || fflush(spool_) != 0) {
    ++stats_.reports_dropped;
    return;
  }
  spool_write_ += 4 + len;
  ++spooled_;
}

void ControllerClient::Refill() {
  if (!spool_) return;
  std::string buf;
  while (spooled_ > 0 && pending_.size() < options_.max_buffered_reports &&
         ReadSpoolRecord(spool_read_, spool_write_, &buf)) {
    spool_read_ += 4 + buf.size();
    --spooled_;
    v1::AgentReport r;
    if (!r.ParseFromString(buf)) {
      ++stats_.reports_dropped;
      continue;
    }
    pending_.push_back(std::move(r));
  }
  if (spooled_ == 0 && spool_write_ > 0) {
    // All taken back: the file starts over.
    fflush(spool_);
    if (ftruncate(fileno(spool_), 0) == 0) {
      rewind(spool_);
      spool_read_ = spool_write_ = 0;
    }
  }
}

void ControllerClient::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void ControllerClient::Stop() {
  stop_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (active_ctx_) static_cast<grpc::ClientContext*>(active_ctx_)->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // What was not delivered waits on disk for the next run.
  std::lock_guard<std::mutex> lock(mu_);
  if (spool_ && (!pending_.empty() || spooled_ > 0)) SpoolPending();
}

void ControllerClient::Report(v1::AgentReport report) {
  std::lock_guard<std::mutex> lock(mu_);
  report.set_id(++next_id_);
  if (report.ts_unix_ns() == 0) report.set_ts_unix_ns(absl::ToUnixNanos(absl::Now()));
  if (spool_ && (spooled_ > 0 || pending_.size() >= options_.max_buffered_reports)) {
    Spill(report);  // behind what is already spooled: ids stay in order
  } else {
    if (pending_.size() >= options_.max_buffered_reports) {
      pending_.pop_front();
      ++stats_.reports_dropped;
    }
    pending_.push_back(std::move(report));
  }
  ++stats_.reports_queued;
  cv_.notify_all();
}

ControllerClient::Stats ControllerClient::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.reports_buffered = pending_.size() + spooled_;
  s.reports_spooled = spooled_;
  s.spool_bytes = spool_write_ - spool_read_;
  return s;
}

void ControllerClient::Run() {
  std::mt19937_64 rng(std::random_device{}());
  size_t i = 0;
  int64_t backoff = options_.backoff_min_ms;
  while (!stop_) {
    const std::string& address = options_.addresses[i % options_.addresses.size()];
    if (Session(address)) {
      backoff = options_.backoff_min_ms;
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.connect_failures;
      ++i;
    }
    if (stop_) break;
    // Jittered exponential backoff: uniform in [backoff/2, backoff].
    std::uniform_int_distribution<int64_t> jitter(backoff / 2, backoff);
    const auto wait = std::chrono::milliseconds(jitter(rng));
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [this] { return stop_.load(); });
    backoff = std::min(backoff * 2, options_.backoff_max_ms);
  }
}

namespace {
void Name(grpc::ClientContext* ctx, const std::string& name) { ctx->AddMetadata("sw-name", name); }
}  // namespace

bool ControllerClient::Session(const std::string& address) {
  // Its own connection (not one shared with other channels to the same
  // address in this process): a controller limits streams per connection.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(
      address, options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials(),
      args);
  auto stub = v1::AgentService::NewStub(channel);

  v1::RegisterRequest req;
  req.set_agent(options_.name);
  req.set_hostname(options_.hostname);
  for (const auto& i : options_.interfaces) req.add_interfaces(i);
  req.set_version(options_.version);
  req.set_ruleset_sha256(options_.ruleset_sha256);
  v1::RegisterResponse resp;
  grpc::ClientContext rctx;
  Name(&rctx, options_.name);
  rctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  const grpc::Status st = stub->Register(&rctx, req, &resp);
  if (!st.ok()) {
    static std::string last_error;
    const std::string err = absl::StrCat(address, ": ", st.error_message());
    if (err != last_error) {
      std::cerr << "sipwarden-agent: controller " << err << " (retrying with backoff)\n";
      last_error = err;
    }
    return false;
  }
  uint64_t since;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!pending_.empty() && pending_.front().id() <= resp.last_report_id()) {
      pending_.pop_front();
      ++stats_.reports_acked;
      if (pending_.empty()) Refill();
    }
    acked_ = std::max(acked_, resp.last_report_id());
    forward_.assign(resp.forward_synthetic().begin(), resp.forward_synthetic().end());
    std::sort(forward_.begin(), forward_.end());
    stats_.connected = true;
    stats_.controller = address;
    ++stats_.connects;
    since = stats_.decision_version;
  }
  std::cerr << "sipwarden-agent: controller " << address << ": connected as " << options_.name
            << " (its decision version " << resp.decision_version() << ", ours " << since
            << ")\n";

  // Reports: one writer, one reader of acknowledgements.
  grpc::ClientContext report_ctx;
  Name(&report_ctx, options_.name);
  ReportStream rs;
  rs.rw = stub->Report(&report_ctx);
  std::atomic<bool> done{false};
  std::thread writer([&] { SendReports(&rs, &done); });
  std::thread acker([&] {
    v1::ReportAck ack;
    while (rs.rw->Read(&ack)) {
      std::lock_guard<std::mutex> lock(mu_);
      while (!pending_.empty() && pending_.front().id() <= ack.stored_through()) {
        pending_.pop_front();
        ++stats_.reports_acked;
      }
      acked_ = std::max(acked_, ack.stored_through());
      if (pending_.size() < options_.max_buffered_reports / 2) Refill();
    }
    done = true;
    cv_.notify_all();
  });

  // Decisions, until the stream breaks.
  grpc::ClientContext wctx;
  Name(&wctx, options_.name);
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_ctx_ = &wctx;
  }
  if (stop_) wctx.TryCancel();
  v1::WatchRequest w;
  w.set_since_version(since);
  auto reader = stub->WatchDecisions(&wctx, w);
  v1::DecisionBatch b;
  while (reader->Read(&b)) {
    apply_(b);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.batches;
    if (!b.snapshot() || b.snapshot_done()) stats_.decision_version = b.version();
  }
  const grpc::Status end = reader->Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_ctx_ = nullptr;
    stats_.connected = false;
  }
  if (!stop_) {
    std::cerr << "sipwarden-agent: controller " << address << ": connection lost ("
              << (end.ok() ? "stream ended" : end.error_message())
              << "); enforcing what the kernel holds, buffering reports\n";
  }
  done = true;
  cv_.notify_all();
  report_ctx.TryCancel();
  writer.join();
  acker.join();
  return true;
}

void ControllerClient::SendReports(ReportStream* rs, std::atomic<bool>* done) {
  uint64_t sent;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sent = acked_;  // a new session resends everything not acknowledged
  }
  while (!*done && !stop_) {
    std::vector<v1::AgentReport> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(500), [&] {
        return *done || stop_ || (!pending_.empty() && pending_.back().id() > sent);
      });
      for (const auto& r : pending_) {
        if (r.id() > sent) batch.push_back(r);
      }
    }
    constexpr size_t kPerMessage = 256;
    for (size_t i = 0; i < batch.size(); i += kPerMessage) {
      v1::ReportBatch m;
      const size_t end = std::min(batch.size(), i + kPerMessage);
      for (size_t k = i; k < end; ++k) *m.add_reports() = std::move(batch[k]);
      const uint64_t last = m.reports(static_cast<int>(m.reports_size() - 1)).id();
      if (!rs->rw->Write(m)) {
        *done = true;
        break;
      }
      sent = last;
    }
  }
  rs->rw->WritesDone();
}

}  // namespace sw

// vmm.virtio.block:engine — runs requests: parses each chain, answers a malformed one at once, starts the I/O of a
// valid one on the backend, and hands back finished chains with the used length to report. Shared by the device's
// queue handling, the tests and the fuzz target, which give it chains they built.
export module vmm.virtio.block:engine;
import std;
import vmm.sys;
import vmm.memory;
import vmm.virtio.queue;
import :error;
import :config;
import :request;
import :backend;
import :metrics;

export namespace vmm::virtio::block {

/// A chain the device is done with: give it to the queue's add_used with used_length.
struct finished_chain {
  queue::chain_token token;
  /// The bytes written from the start of the chain's writable part (a lower bound, as virtio requires): the data
  /// and status of a successful read, the serial of a GET_ID, 1 when the status byte is the whole writable part,
  /// else 0.
  std::uint32_t used_length = 0;
  /// The status written (meaningless when dropped).
  std::uint8_t status = status::ok;
  /// The queue the chain came from (submit's `queue`).
  std::uint16_t queue = 0;
  /// No status could be written (no status byte, or it is not writable memory).
  bool dropped = false;
};

/// Runs requests against one backend. Not thread safe (the device serialises it).
class request_engine {
 public:
  /// The most requests in flight at once per queue (a queue never has more chains than its size).
  static constexpr std::size_t max_in_flight = max_queue_size;

  /// An engine on `backend` (which must outlive it) that counts into `metrics` (likewise), for chains from `queues`
  /// queues (max_in_flight request slots each).
  request_engine(block_backend& backend, const request_policy& policy, const std::array<std::byte, id_bytes>& serial,
                 block_metrics& metrics, std::size_t queues = 1);

  /// Replaces the policy (at activation: the negotiated features). Requests in flight keep the old one.
  inline void set_policy(const request_policy& policy) noexcept { policy_ = policy; }
  [[nodiscard]] inline auto policy() const noexcept -> const request_policy& { return policy_; }

  /// Whether submit() can take another chain now: a free request slot, and room in the backend for the largest
  /// request (a discard or write-zeroes of its maximum range count).
  [[nodiscard]] auto can_accept() const noexcept -> bool;

  /// Takes `chain` (its buffers in `*memory`, which the engine keeps alive until the request finishes). A malformed
  /// request is answered here (status written, or dropped) and is ready for collect(); a GET_ID finishes here; the
  /// others start on the backend. Nothing is returned: every outcome arrives through collect(). Contract:
  /// can_accept(). `queue` comes back in the chain's finished_chain.
  void submit(std::shared_ptr<const memory::guest_memory> memory, const queue::descriptor_chain& chain,
              std::uint16_t queue = 0);

  /// Hands the started operations to the backend's kernel interface (one io_uring_enter). Errors: the backend's.
  [[nodiscard]] auto flush() -> vmm::result<void>;

  /// Reaps the backend and appends every chain finished since the last call to `out`.
  void collect(std::vector<finished_chain>& out);

  /// Forgets the requests in flight (device reset): they still complete on the backend, but are not reported and
  /// their status is not written.
  void abandon() noexcept;

  /// Requests taken and not yet collected.
  [[nodiscard]] auto in_flight() const noexcept -> std::size_t { return slots_.size() - free_.size(); }

 private:
  struct pending {
    queue::chain_token token;
    std::uint16_t queue = 0;
    operation op = operation::read;
    std::uint32_t ops_left = 0;
    std::uint64_t data_bytes = 0;
    std::uint64_t writable_bytes = 0;
    memory::guest_address status_address;
    std::error_code error;
    bool abandoned = false;
    std::shared_ptr<const memory::guest_memory> memory;
    std::vector<sys::io_buffer> buffers;
  };

  void finish(pending& p, std::uint32_t index);
  void count_finished(const pending& p, std::uint8_t status) noexcept;
  void start(std::uint32_t index, const block_request& request);
  [[nodiscard]] auto ops_needed_max() const noexcept -> std::size_t;

  block_backend* backend_;
  request_policy policy_;
  std::array<std::byte, id_bytes> serial_;
  block_metrics* metrics_;
  std::vector<pending> slots_;
  std::vector<std::uint32_t> free_;
  std::vector<finished_chain> ready_;
  std::vector<io_completion> completions_;
  block_request request_;  // reused from one parse to the next
};

}  // namespace vmm::virtio::block

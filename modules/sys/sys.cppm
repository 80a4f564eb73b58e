// vmm.sys — the system layer of cpp-vmm, the counterpart of rust-vmm's vmm-sys-util.
//
// What it does: the error conventions (vmm::result, per-module error categories, the contract check); owned and
// borrowed file descriptors; eventfd, epoll and timerfd; signal masks and the vCPU "kick" signal; ioctl request
// numbers and calls; temporary files and directories; terminal raw mode; unix sockets that carry descriptors;
// memory mappings, address-space reservations, memfds and vectored I/O; getrandom; opening files and device
// nodes by path.
// Every raw system call of cpp-vmm outside vmm.kvm lives here, next to a SAFETY comment.
//
// What it deliberately does not do: no event loop (vmm.event_manager), no guest memory (vmm.memory), no KVM
// knowledge beyond request-number arithmetic (vmm.kvm), no retries of EINTR (an interrupted call is how a kick
// reaches a thread, so callers decide), no printing and no exceptions.
export module vmm.sys;
export import :error;
export import :fd;
export import :event_fd;
export import :epoll;
export import :timer_fd;
export import :signal;
export import :ioctl;
export import :temp;
export import :terminal;
export import :socket;
export import :memory_map;
export import :random;
export import :file;

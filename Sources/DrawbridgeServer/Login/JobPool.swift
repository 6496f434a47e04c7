import Glibc

/// A fixed number of threads taking jobs from one bounded FIFO. `submit` never blocks: when the
/// queue is full it refuses, and the caller answers 503 at once instead of letting waiting work
/// (and the connections behind it) pile up without limit. Jobs run in submission order as
/// threads free up; one slow job holds one thread, never the jobs queued behind another thread.
final class JobPool: @unchecked Sendable {
    typealias Job = @Sendable () -> Void
    let name: String
    let threads: Int
    let capacity: Int
    private var queue: [Job?]
    private var head = 0, count = 0
    private var mutex = pthread_mutex_t()
    private var ready = pthread_cond_t()

    init(name: String, threads: Int, capacity: Int) {
        self.name = name
        self.threads = max(1, threads)
        self.capacity = max(1, capacity)
        queue = [Job?](repeating: nil, count: self.capacity)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&ready, nil)
        for _ in 0..<self.threads { startThread() }
    }

    /// Queues `job`; false when the queue is full (nothing was queued).
    func submit(_ job: @escaping Job) -> Bool {
        pthread_mutex_lock(&mutex)
        guard count < capacity else { pthread_mutex_unlock(&mutex); return false }
        queue[(head + count) % capacity] = job
        count += 1
        pthread_cond_signal(&ready)
        pthread_mutex_unlock(&mutex)
        return true
    }

    /// Jobs waiting (not running); for tests and diagnostics.
    var waiting: Int {
        pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }
        return count
    }

    private func take() -> Job {
        pthread_mutex_lock(&mutex)
        while count == 0 { pthread_cond_wait(&ready, &mutex) }
        let job = queue[head]!
        queue[head] = nil
        head = (head + 1) % capacity
        count -= 1
        pthread_mutex_unlock(&mutex)
        return job
    }

    private func startThread() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var t = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_create(&t, &attr, { arg in
            let pool = Unmanaged<JobPool>.fromOpaque(arg!).takeUnretainedValue()
            // Job threads take no signals: the main thread waits for them with sigtimedwait.
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            while true { pool.take()() }
        }, box)
        pthread_attr_destroy(&attr)
    }
}

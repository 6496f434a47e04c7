import CLinux
import Glibc

// whoami: the demo and test upstream for Drawbridge. Plain HTTP/1.1 on loopback, one blocking
// thread per connection. See docs/WHOAMI.md.

let usage = """
    usage: whoami [--listen HOST:PORT]... [--name NAME] [--log]
      --listen  address to serve on (default 127.0.0.1:9000; port 0 picks a free port); repeatable
      --name    name echoed in JSON bodies and the X-Upstream-Name header (default "whoami")
      --log     print "request: <request line>" to stdout for every request head received

    """

func fail(_ message: String) -> Never {
    fputs("whoami: \(message)\n\(usage)", stderr)
    exit(2)
}

var listenSpecs: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let arg = arguments.popFirst() {
    switch arg {
    case "--listen":
        guard let value = arguments.popFirst() else { fail("--listen needs a value") }
        listenSpecs.append(value)
    case "--name":
        guard let value = arguments.popFirst() else { fail("--name needs a value") }
        upstreamName = value
    case "--log":
        logRequests = true
    case "-h", "--help":
        print(usage, terminator: "")
        exit(0)
    default:
        fail("unknown argument \(arg)")
    }
}
if listenSpecs.isEmpty { listenSpecs = ["127.0.0.1:9000"] }

// Before any thread exists: SIGPIPE ignored, SIGTERM/SIGINT/SIGHUP blocked in every thread
// and collected below with sigtimedwait.
_ = CLinux_block_signals()

var listeners: [(fd: Int32, address: String)] = []
for spec in listenSpecs {
    guard let listener = listenOn(spec) else {
        fputs("whoami: cannot listen on \(spec): \(String(cString: strerror(errno)))\n", stderr)
        exit(1)
    }
    listeners.append(listener)
}
for listener in listeners {
    let fd = listener.fd
    guard spawnThread(stackSize: connectionStackSize, { acceptLoop(fd) }) else {
        fputs("whoami: cannot start accept thread\n", stderr)
        exit(1)
    }
    print("whoami listening on \(listener.address)")
}
fflush(stdout)

while true {
    let signal = CLinux_wait_signal(1000)
    if signal == SIGTERM || signal == SIGINT { exit(0) }
}

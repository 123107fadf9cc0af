package backend

import "sync"

// topic names one kind of in-process wake-up. Waiters always re-read the
// database after waking, so a missed or spurious wake-up costs latency,
// never correctness.
type topic uint8

const (
	topicClaimable topic = iota // an execution may have become claimable
	topicCompletion
	topicLeaseHistory
	topicSignalDelivery
	topicStreamFrame
	topicOperator
	topicCount
)

// topicSet is a bit set of topics collected by a transaction and published
// after it commits.
type topicSet uint32

func (s *topicSet) add(t topic) { *s |= 1 << t }

func (s topicSet) has(t topic) bool { return s&(1<<t) != 0 }

// notifier broadcasts wake-ups: each topic has a channel that is closed
// (and replaced) on publish, so any number of waiters wake at once.
type notifier struct {
	mu     sync.Mutex
	chans  [topicCount]chan struct{}
	closed chan struct{}
}

func newNotifier() *notifier {
	n := &notifier{closed: make(chan struct{})}
	for i := range n.chans {
		n.chans[i] = make(chan struct{})
	}
	return n
}

// wait returns a channel that is closed at the next publish of t.
func (n *notifier) wait(t topic) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.chans[t]
}

// done is closed when the database shuts down.
func (n *notifier) done() <-chan struct{} { return n.closed }

func (n *notifier) publish(s topicSet) {
	if s == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for t := topic(0); t < topicCount; t++ {
		if s.has(t) {
			close(n.chans[t])
			n.chans[t] = make(chan struct{})
		}
	}
}

func (n *notifier) shutdown() {
	n.mu.Lock()
	defer n.mu.Unlock()
	select {
	case <-n.closed:
	default:
		close(n.closed)
	}
}

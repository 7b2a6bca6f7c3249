import Foundation
import Generate

/// What one sequence (one choice of a request) asks to generate.
public struct SequenceRequest: Sendable {
    public var prompt: [Int32]
    public var settings: DecodingSettings
    public var maxNewTokens: Int
    public var seed: UInt64
    public var stop: [String]
}

/// What a request's sequences report, in order, to the connection waiting for them.
public enum TicketEvent: Equatable {
    case text(choice: Int, String)
    case finished(choice: Int, ending: SequenceDecoder.Ending, completionTokens: Int)
}

/// One request's sequences as the scheduler and the waiting connection share
/// them: the scheduler posts events, the connection takes them, and either
/// side may cancel (a client that went away; a server that stops).
public final class GenerationTicket: @unchecked Sendable {
    let condition = NSCondition()
    var events: [TicketEvent] = []
    var cancelledFlag = false

    public init() {}

    public var cancelled: Bool { condition.lock(); defer { condition.unlock() }; return cancelledFlag }

    /// Frees the request's slots at the next step; its queued sequences never start.
    public func cancel() {
        condition.lock(); cancelledFlag = true; condition.broadcast(); condition.unlock()
    }

    func post(_ event: TicketEvent) {
        condition.lock(); events.append(event); condition.broadcast(); condition.unlock()
    }

    /// The events posted since the last call, waiting up to `timeout` seconds for one.
    public func take(timeout: Double) -> [TicketEvent] {
        condition.lock()
        defer { condition.unlock() }
        if events.isEmpty && !cancelledFlag { _ = condition.wait(until: Date(timeIntervalSinceNow: timeout)) }
        let out = events
        events.removeAll()
        return out
    }
}

/// The server's decoding slots: `parallel` logits sources, each holding one
/// sequence's KV cache, and a queue of sequences waiting for one (first come,
/// first served). One thread decodes: each round gives every busy slot one
/// step (one token), so the sequences in flight advance together (in one
/// batched pass over the weights where `SlotStepper` can) and a new one starts
/// as soon as a slot frees; a new sequence's prompt is read on its own. A cancelled sequence leaves its slot
/// before the next step. Each sequence has its own cache and random numbers,
/// so its tokens do not depend on what else is running.
public final class SlotScheduler: @unchecked Sendable {
    struct Waiting {
        let ticket: GenerationTicket
        let choice: Int
        let request: SequenceRequest
    }
    struct Running {
        let ticket: GenerationTicket
        let choice: Int
        let decoder: SequenceDecoder
    }

    let model: ServedModel
    let sources: [any LogitsSource]
    let stepper: SlotStepper
    /// Sequences that may wait for a slot; more are refused (the server is busy).
    public let queueLimit: Int
    let condition = NSCondition()
    var queue: [Waiting] = []
    var running: [Running?]
    var stopping = false
    var threadRunning = false

    public init(model: ServedModel, parallel: Int, queueLimit: Int = 1024) throws {
        self.model = model
        sources = try (0..<parallel).map { _ in try model.makeSource() }
        stepper = SlotStepper(sources: sources)
        running = Array(repeating: nil, count: parallel)
        self.queueLimit = queueLimit
    }

    public var parallel: Int { sources.count }
    /// Whether busy slots decode in one batched step (else one after another).
    public var batches: Bool { stepper.batches }

    /// Busy slots and queued sequences, now.
    public var load: (busy: Int, queued: Int) {
        condition.lock(); defer { condition.unlock() }
        return (running.lazy.filter { $0 != nil }.count, queue.count)
    }

    public func start() {
        condition.lock(); threadRunning = true; condition.unlock()
        let thread = Thread { [self] in decodeLoop() }
        thread.name = "serve-decode"
        thread.start()
    }

    /// Ends the decoding thread after the current round; sequences still queued or running are cancelled.
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while threadRunning { condition.wait() }
        condition.unlock()
    }

    /// Queues a request's sequences (choice i is `requests[i]`); false when the queue is full.
    public func submit(_ ticket: GenerationTicket, _ requests: [SequenceRequest]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping, queue.count + requests.count <= queueLimit else { return false }
        for (i, r) in requests.enumerated() { queue.append(Waiting(ticket: ticket, choice: i, request: r)) }
        condition.broadcast()
        return true
    }

    func decodeLoop() {
        while true {
            condition.lock()
            while !stopping && queue.isEmpty && running.allSatisfy({ $0 == nil }) { condition.wait() }
            if stopping {
                for r in running.compactMap({ $0 }) { r.ticket.cancel() }
                for w in queue { w.ticket.cancel() }
                queue.removeAll()
                threadRunning = false
                condition.broadcast()
                condition.unlock()
                return
            }
            queue.removeAll { $0.ticket.cancelled }
            for slot in running.indices where running[slot] == nil && !queue.isEmpty {
                let w = queue.removeFirst()
                let r = w.request
                running[slot] = Running(ticket: w.ticket, choice: w.choice,
                                        decoder: SequenceDecoder(source: sources[slot], prompt: r.prompt, tokenizer: model.tokenizer,
                                                                 endTokens: model.endTokens, settings: r.settings,
                                                                 maxNewTokens: r.maxNewTokens, seed: r.seed, stop: r.stop))
            }
            let round = running
            condition.unlock()

            // One step for every busy slot: new sequences read their prompts one by one,
            // the others advance together.
            var freed: [Int] = []
            var decoding: [(slot: Int, entry: Running)] = []
            func report(_ slot: Int, _ entry: Running, _ text: String) {
                if !text.isEmpty { entry.ticket.post(.text(choice: entry.choice, text)) }
                if let ending = entry.decoder.ending {
                    entry.ticket.post(.finished(choice: entry.choice, ending: ending, completionTokens: entry.decoder.generated.count))
                    freed.append(slot)
                }
            }
            for (slot, entry) in round.enumerated() {
                guard let entry else { continue }
                if entry.ticket.cancelled { freed.append(slot); continue }
                if entry.decoder.needsPrefill { report(slot, entry, entry.decoder.step()) } else { decoding.append((slot, entry)) }
            }
            if !decoding.isEmpty {
                let logits = stepper.advance(decoding.map { sources[$0.slot] }, decoding.map { $0.entry.decoder.tokens })
                for (i, d) in decoding.enumerated() { report(d.slot, d.entry, d.entry.decoder.step(logits: logits[i])) }
            }
            if !freed.isEmpty {
                condition.lock()
                for slot in freed { running[slot] = nil }
                condition.unlock()
            }
        }
    }
}

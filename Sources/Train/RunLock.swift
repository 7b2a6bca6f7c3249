import Foundation
import Files
import Formats

/// One process per run directory: an advisory `flock` on the directory
/// itself, held until the process exits. The kernel drops the lock when its
/// holder dies, however it dies, so a lock left by a killed trainer is taken
/// over by the next one without any cleanup. The holder's process id is
/// written to the run's marker file so that a refused process can name it.
public final class RunLock {
    public let directory: URL
    private let descriptor: Int32

    /// Locks `directory`, which must exist, or throws naming the holder.
    public init(_ directory: URL) throws {
        self.directory = directory
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw TrainingError("cannot open run directory '\(directory.path)': \(posixReason(errno))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            close(fd)
            if reason == EWOULDBLOCK {
                let holder = RunLock.recordedHolder(of: directory).map { "process \($0)" } ?? "another process"
                throw TrainingError("run directory \(directory.path) is in use by \(holder); wait for it to finish or choose another --out")
            }
            throw TrainingError("cannot lock run directory '\(directory.path)': \(posixReason(reason))")
        }
        descriptor = fd
        let marker = RunDirectory(directory).marker
        do { try AtomicFile.write(Data("\(getpid())\n".utf8), to: marker) } catch {
            throw TrainingError("cannot write '\(marker.path)': \(plainReason(error))")
        }
    }

    deinit { close(descriptor) }  // closing the descriptor releases the lock

    /// The process id in the run's marker file, if any.
    static func recordedHolder(of directory: URL) -> Int32? {
        guard let data = FileManager.default.contents(atPath: RunDirectory(directory).marker.path) else { return nil }
        return Int32(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

import Foundation
import XCTest
@testable import Models

/// The control socket's updates: a full one, then only what changed, rebuild the server's snapshot
/// on the client.
final class ControlWireTests: XCTestCase {
    func snapshot(steps: Int) -> TrainingSnapshot {
        var s = TrainingSnapshot(model: "lenet5")
        s.step = steps
        s.trainLoss = (1...max(1, steps)).prefix(steps).map { CurvePoint(step: $0, value: 1 / Double($0)) }
        s.trainAccuracy = s.trainLoss.map { CurvePoint(step: $0.step, value: 50) }
        s.events = steps >= 3 ? [ControlEvent(step: 3, label: "pause")] : []
        s.message = "m\(steps)"
        return s
    }

    func roundTrip(_ u: ControlUpdate) throws -> ControlUpdate {
        try ControlWire.decoder().decode(ControlUpdate.self, from: ControlWire.encoder.encode(u))
    }

    func testUpdatesRebuildTheSnapshot() throws {
        var sent = SentState()
        var client = TrainingSnapshot.blank
        for steps in [0, 1, 2, 5, 9] {
            let server = snapshot(steps: steps)
            let u = try roundTrip(server.update(&sent, ended: false, run: nil, clients: nil))
            XCTAssertEqual(u.full, steps == 0)
            if steps > 0 { XCTAssertNotNil(u.curves?["trainLoss"], "no new loss points at step \(steps)") }
            client.apply(u)
            XCTAssertEqual(client.step, steps)
            XCTAssertEqual(client.trainLoss, server.trainLoss)
            XCTAssertEqual(client.trainAccuracy, server.trainAccuracy)
            XCTAssertEqual(client.events, server.events)
            XCTAssertEqual(client.message, server.message)
        }
        // Nothing new: no curves in the update.
        let same = try roundTrip(snapshot(steps: 9).update(&sent, ended: false, run: nil, clients: nil))
        XCTAssertNil(same.curves)
    }
}

import Foundation

/// Decodes the body of an offline upload, `POST /v1/classes/{classId}/participants/{participantId}/samples`
/// (docs/PROTOCOL.md): a JSON array of `hr` objects with the socket's fields and ranges, `t` optional (when
/// present it must be `"hr"`). All or nothing: the first bad element fails the whole body, named by its index.
public enum UploadDecoder {
    /// Most samples one upload may carry; more is HTTP 413.
    public static let maxSamples = 10_000
    /// Largest body accepted; more is HTTP 413.
    public static let maxBodyBytes = 4 * 1024 * 1024

    /// Why a body was refused: `tooLarge` is HTTP 413, `invalid` HTTP 400 with its one-line reason.
    public enum Failure: Error, Equatable, Sendable {
        case tooLarge(String)
        case invalid(String)

        /// The one-line reason for the HTTP answer.
        public var reason: String {
            switch self {
            case .tooLarge(let reason), .invalid(let reason): reason
            }
        }
    }

    /// The samples of an upload body, in the order given.
    public static func decode(_ body: [UInt8]) throws(Failure) -> [Sample] {
        guard body.count <= maxBodyBytes else {
            throw .tooLarge("body is \(body.count) bytes, at most \(maxBodyBytes) allowed")
        }
        do {
            return try JSONDecoder().decode(UploadBody.self, from: Data(body)).samples
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .invalid("body must be a JSON array of hr objects")
        }
    }
}

private struct UploadBody: Decodable {
    var samples: [Sample] = []

    init(from decoder: any Decoder) throws {
        var list: UnkeyedDecodingContainer
        do {
            list = try decoder.unkeyedContainer()
        } catch {
            throw UploadDecoder.Failure.invalid("body must be a JSON array of hr objects")
        }
        if let count = list.count, count > UploadDecoder.maxSamples {
            throw UploadDecoder.Failure.tooLarge(
                "\(count) samples in one upload, at most \(UploadDecoder.maxSamples) allowed")
        }
        samples.reserveCapacity(list.count ?? 0)
        while !list.isAtEnd {
            let index = list.currentIndex
            guard samples.count < UploadDecoder.maxSamples else {
                throw UploadDecoder.Failure.tooLarge("more than \(UploadDecoder.maxSamples) samples in one upload")
            }
            do {
                let element = try list.decode(UploadElement.self)
                samples.append(element.sample)
            } catch let error as ProtocolError {
                throw UploadDecoder.Failure.invalid("element \(index): \(error.message)")
            } catch {
                throw UploadDecoder.Failure.invalid("element \(index): must be a JSON object")
            }
        }
    }
}

/// One element: an `hr` object whose `t` may be left out.
private struct UploadElement: Decodable {
    let sample: Sample

    init(from decoder: any Decoder) throws {
        let container: KeyedDecodingContainer<ClientKey>
        do {
            container = try decoder.container(keyedBy: ClientKey.self)
        } catch {
            throw ProtocolError(.badJSON, "must be a JSON object")
        }
        var fields = FieldReader(container: container)
        if container.contains(.t) {
            let type = try fields.type()
            guard type == "hr" else { throw ProtocolError(.badField, "t must be \"hr\" (or absent), got '\(type)'") }
        }
        sample = try fields.sample()
    }
}

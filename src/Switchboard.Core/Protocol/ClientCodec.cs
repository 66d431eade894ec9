using System.Text.Json;

namespace Switchboard.Protocol;

/// <summary>
/// How one connection's messages become bytes: the JSON protocol, the Protobuf protocol, or the
/// unidirectional JSON protocol (pushes without the <c>push</c> wrapper). A session holds exactly
/// one; fan-out encodes each push once per codec in use (<see cref="OutboundPush"/>).
/// </summary>
internal abstract class ClientCodec
{
    /// <summary>How many codecs exist: the size of an <see cref="OutboundPush"/> cache.</summary>
    public const int Count = 3;

    /// <summary>The JSON protocol: newline-separated JSON messages.</summary>
    public static readonly ClientCodec Json = new JsonClientCodec();

    /// <summary>The Protobuf protocol: length-prefixed binary messages.</summary>
    public static readonly ClientCodec Protobuf = new Protobuf.ProtobufClientCodec();

    /// <summary>The JSON protocol of the unidirectional transports: only pushes, unwrapped.</summary>
    public static readonly ClientCodec UniJson = new UniJsonClientCodec();

    /// <summary>This codec's slot in an <see cref="OutboundPush"/> cache (0 … <see cref="Count"/>−1).</summary>
    public abstract int Slot { get; }

    /// <summary>The protocol's name as clients ask for it: <c>json</c> or <c>protobuf</c>.</summary>
    public abstract string Name { get; }

    /// <summary>True for binary protocols (WebSocket binary frames, <c>application/octet-stream</c>).</summary>
    public virtual bool IsBinary => false;

    /// <summary>What goes between two messages joined into one frame.</summary>
    public abstract ReadOnlySpan<byte> Separator { get; }

    /// <summary>The server ping: an empty message.</summary>
    public abstract ReadOnlyMemory<byte> Ping { get; }

    /// <summary>
    /// Decodes every command of one incoming frame, in order. Throws
    /// <see cref="DisconnectException"/> (3501) when any of it is malformed.
    /// </summary>
    public abstract List<Command> DecodeFrame(ReadOnlySpan<byte> frame);

    /// <summary>Encodes one reply (or a push wrapped in a reply) as one message.</summary>
    public abstract byte[] Encode(Reply reply);

    /// <summary>Encodes one push as one message.</summary>
    public virtual byte[] EncodePush(Push push) => Encode(new Reply { Push = push });
}

/// <summary>The JSON protocol (<see cref="JsonCodec"/>).</summary>
internal sealed class JsonClientCodec : ClientCodec
{
    public override int Slot => 0;

    public override string Name => "json";

    public override ReadOnlySpan<byte> Separator => "\n"u8;

    public override ReadOnlyMemory<byte> Ping => JsonCodec.Ping;

    public override List<Command> DecodeFrame(ReadOnlySpan<byte> frame) => JsonCodec.DecodeFrame(frame);

    public override byte[] Encode(Reply reply) => JsonCodec.Encode(reply);
}

/// <summary>
/// The unidirectional JSON protocol: a client only receives, and each message is the push object
/// itself (<c>{"channel":"…","pub":{…}}</c>, <c>{"connect":{…}}</c>), without the <c>push</c>
/// wrapper. The connect reply is sent as a <c>connect</c> push.
/// </summary>
internal sealed class UniJsonClientCodec : ClientCodec
{
    public override int Slot => 2;

    public override string Name => "json";

    public override ReadOnlySpan<byte> Separator => "\n"u8;

    public override ReadOnlyMemory<byte> Ping => JsonCodec.Ping;

    // A unidirectional client sends nothing after its connect request.
    public override List<Command> DecodeFrame(ReadOnlySpan<byte> frame) => throw new DisconnectException(Disconnect.BadRequest);

    public override byte[] Encode(Reply reply)
        => reply.Push is { } push ? EncodePush(push)
         : reply.Connect is { } connect ? EncodePush(new Push { Connect = connect })
         : JsonCodec.Ping.ToArray();

    public override byte[] EncodePush(Push push) => JsonSerializer.SerializeToUtf8Bytes(push, ProtocolJsonContext.Default.Push);
}

namespace Switchboard.Protocol.Protobuf;

/// <summary>
/// The Protobuf client protocol (WebSocket subprotocol <c>centrifuge-protobuf</c>): each message is
/// a varint length and a <c>Command</c> or <c>Reply</c> of <c>client.proto</c>; several messages in
/// one binary frame are simply concatenated. The ping is an empty reply (a single 0 byte) and the
/// client's pong an empty command. Channels carry JSON values, so every data field a client sends
/// must be one JSON value (UTF-8 bytes); outgoing data fields carry the value's JSON bytes.
/// </summary>
internal sealed class ProtobufClientCodec : ClientCodec
{
    private static readonly byte[] EmptyReply = [0];

    public override int Slot => 1;

    public override string Name => "protobuf";

    public override bool IsBinary => true;

    public override ReadOnlySpan<byte> Separator => [];

    public override ReadOnlyMemory<byte> Ping => EmptyReply;

    public override List<Command> DecodeFrame(ReadOnlySpan<byte> frame) => ProtobufCommandDecoder.DecodeFrame(frame);

    public override byte[] Encode(Reply reply) => ProtobufReplyEncoder.Encode(reply);
}

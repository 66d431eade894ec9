namespace Switchboard.Protocol;

/// <summary>
/// A push on its way to many connections (a publication, a join or leave, a message): encoded at
/// most once per codec, on first use, and the same bytes queued for every connection of that codec.
/// </summary>
internal sealed class OutboundPush(Push push)
{
    private byte[]? _slot0;
    private byte[]? _slot1;
    private byte[]? _slot2;

    public Push Push => push;

    /// <summary>The push as <paramref name="codec"/> writes it. Racing callers may both encode; either result is the same.</summary>
    public ReadOnlyMemory<byte> For(ClientCodec codec) => codec.Slot switch
    {
        0 => _slot0 ??= codec.EncodePush(push),
        1 => _slot1 ??= codec.EncodePush(push),
        _ => _slot2 ??= codec.EncodePush(push),
    };
}

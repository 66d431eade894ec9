namespace Switchboard.Bench;

/// <summary>
/// Many channels: subscribers round-robin over <c>--channels</c> rooms (default 10,000 over 100),
/// publications round-robin over the rooms at a total rate (default 2,000/s); each publication is
/// expected by its room's subscribers only.
/// </summary>
internal sealed class ManyChannelsScenario(ScenarioContext context) : FanOutScenario(context)
{
    public override string Name => "many-channels";

    protected override int Channels => Options.Channels;

    protected override int SubscriberCount => Options.SubscribersSet ?? 10_000;

    protected override IReadOnlyList<int> Rates => Options.RatesSet ?? [2000];

    protected override int Seconds => Options.DurationSet ?? 10;

    public override string Describe() =>
        $"many-channels: {SubscriberCount} subscribers over {Channels} rooms (round-robin), total rates {string.Join(", ", Rates)} pubs/s over the rooms, {Seconds} s each";
}
